"""A refund: part or all of a captured payment given back, a record of its own on the payment
(`Payment.refunds`). It is asked for (Pending), the worker asks the bank once by its refund
id (the idempotency key), and the bank's answer ends it: Succeeded or Failed. The refunds
that have not failed never sum past the payment's captured amount: the check and the new
refund are one conditional write of the payment (Payment.asks_refund)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

# A payment keeps its refunds in its own item: a bound keeps the item small and a read cheap.
MAX_REFUNDS_PER_PAYMENT = 50
MAX_REFUND_REASON_LENGTH = 200
REFUND_ID = re.compile(r"^rf_[0-9a-f]{32}$")


class RefundStatus(StrEnum):
    PENDING = "Pending"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class Refund:
    refund_id: str
    amount: int
    status: RefundStatus
    created_at: int
    updated_at: int
    reason: str | None = None
    fail_code: str | None = None
    fail_reason: str | None = None

    @property
    def holds_money(self) -> bool:
        """Counted against the captured amount: given back, or on its way."""
        return self.status is not RefundStatus.FAILED

    def answered(self, outcome: RefundOutcome, now: int) -> Refund:
        if self.status is not RefundStatus.PENDING:
            raise ValueError(f"refund {self.refund_id} is {self.status}: final is final")
        return replace(
            self,
            status=outcome.status,
            updated_at=now,
            fail_code=outcome.fail_code,
            fail_reason=outcome.fail_reason,
        )


@dataclass(frozen=True)
class RefundOutcome:
    """The bank's answer to a refund."""

    status: RefundStatus
    fail_code: str | None = None
    fail_reason: str | None = None


REFUND_SUCCEEDED = RefundOutcome(RefundStatus.SUCCEEDED)
REFUND_DECLINED = RefundOutcome(
    RefundStatus.FAILED, "refund_declined", "the bank declined the refund"
)


def new_refund_id() -> str:
    return f"rf_{uuid.uuid4().hex}"
