"""The simulated bank's rules (core/adapters/simulated_bank.py): it answers by amount,
and ops can switch its faults on and off (`paygate bank`).

| amount | result |
| 1      | Declined (card_declined) |
| 2      | InsufficientFunds (insufficient_funds) |
| 24     | Pending first, Accepted on the next check |
| 503    | unavailable on the first two calls, then Accepted |
| 504    | never answers: times out (unless timeouts are switched off) |
| other  | Accepted |

Captures, voids and refunds each have their own idempotency key: 503 and 504 behave for
them as for an authorization (by the amount captured or refunded), and a refund of 3 is
declined (refund_declined).
"""

from __future__ import annotations

from dataclasses import dataclass

DECLINED_AMOUNT = 1
INSUFFICIENT_FUNDS_AMOUNT = 2
PENDING_AMOUNT = 24
FLAKY_AMOUNT = 503
TIMEOUT_AMOUNT = 504
FLAKY_FAILURES = 2
REFUND_DECLINED_AMOUNT = 3


@dataclass(frozen=True)
class BankControls:
    outage: bool = False
    latency_ms: int = 0
    # Off: amount 504 answers (Accepted) instead of timing out, to demo DLQ replay.
    timeouts: bool = True

    def times_out(self, amount: int) -> bool:
        return self.timeouts and amount == TIMEOUT_AMOUNT
