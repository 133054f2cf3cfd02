"""The simulated bank's rules (core/adapters/simulated_bank.py): it answers by amount,
and ops can switch its faults on and off (`paygate bank`).

| amount | result |
| 1      | Declined (card_declined) |
| 2      | InsufficientFunds (insufficient_funds) |
| 24     | Pending first, Accepted on the next check |
| 503    | unavailable on the first two calls, then Accepted |
| 504    | never answers: times out (unless timeouts are switched off) |
| other  | Accepted |
"""

from __future__ import annotations

from dataclasses import dataclass

DECLINED_AMOUNT = 1
INSUFFICIENT_FUNDS_AMOUNT = 2
PENDING_AMOUNT = 24
FLAKY_AMOUNT = 503
TIMEOUT_AMOUNT = 504
FLAKY_FAILURES = 2


@dataclass(frozen=True)
class BankControls:
    outage: bool = False
    latency_ms: int = 0
    # Off: amount 504 answers (Accepted) instead of timing out, to demo DLQ replay.
    timeouts: bool = True

    def times_out(self, amount: int) -> bool:
        return self.timeouts and amount == TIMEOUT_AMOUNT
