"""The payment record and its state machine. The rules of which status may follow which
live here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from core.domain.cards import mask_card_number

CREATED_VERSION = 1


class PaymentStatus(StrEnum):
    CREATED = "Created"
    PROCESSING = "Processing"
    PENDING = "Pending"
    ACCEPTED = "Accepted"
    DECLINED = "Declined"
    INSUFFICIENT_FUNDS = "InsufficientFunds"
    # Could not be processed within the bound, and the bank confirmed it never charged it.
    FAILED = "Failed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_in_flight(self) -> bool:
        return self in (PaymentStatus.PROCESSING, PaymentStatus.PENDING)


FINAL_STATUSES = frozenset(
    {
        PaymentStatus.ACCEPTED,
        PaymentStatus.DECLINED,
        PaymentStatus.INSUFFICIENT_FUNDS,
        PaymentStatus.FAILED,
    }
)

ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: frozenset({PaymentStatus.PROCESSING}),
    PaymentStatus.PROCESSING: frozenset({PaymentStatus.PENDING, *FINAL_STATUSES}),
    PaymentStatus.PENDING: frozenset({PaymentStatus.PENDING, *FINAL_STATUSES}),
    **{status: frozenset() for status in FINAL_STATUSES},
}


class IllegalTransitionError(Exception):
    pass


def check_transition(current: PaymentStatus, target: PaymentStatus) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransitionError(f"{current} -> {target} is not allowed")


@dataclass(frozen=True)
class PaymentDetails:
    """What make-payment adds to a payment, none of it secret."""

    amount: int
    currency: str
    expiry_year: int
    expiry_month: int
    card_name: str
    billing_address: str
    card_last_four: str
    request_digest: str

    @property
    def masked_card_number(self) -> str:
        return mask_card_number(self.card_last_four)


@dataclass(frozen=True)
class BankOutcome:
    status: PaymentStatus
    fail_code: str | None = None
    fail_reason: str | None = None


# A payment that could not finish within the bound, which the bank confirmed it never
# authorized (and now never will).
PROCESSING_FAILED = BankOutcome(
    PaymentStatus.FAILED,
    "processing_failed",
    "the payment could not be processed in time; the card was not charged",
)


@dataclass(frozen=True)
class FailureNotes:
    """Why processing an in-flight payment failed, for ops (`paygate dlq list`): never a
    state change, cleared once the bank answers."""

    reason: str
    first_at: int
    last_at: int
    count: int
    # The receive count of the delivery SQS moved to the DLQ after (its original count).
    dead_letter_receives: int | None = None


@dataclass(frozen=True)
class Payment:
    payment_id: str
    merchant_id: str
    status: PaymentStatus
    version: int
    created_at: int
    updated_at: int
    expires_at: int | None = None
    details: PaymentDetails | None = None
    card_ciphertext: bytes | None = None
    correlation_id: str | None = None
    fail_code: str | None = None
    fail_reason: str | None = None
    bank_checks: int = 0
    reconcile_count: int = 0
    # When the reconciler last looked at it (queued its job again, or reported it stuck).
    reconciled_at: int | None = None
    failure: FailureNotes | None = None
    # make-payment recorded it but could not queue its job: a repeated request queues it.
    enqueue_failed: bool = False

    def is_expired(self, now: int) -> bool:
        """A Created payment unused past its expiry is gone, whether or not TTL deleted it."""
        return (
            self.status is PaymentStatus.CREATED
            and self.expires_at is not None
            and self.expires_at <= now
        )

    def visible_to(self, merchant_id: str, now: int) -> bool:
        return self.merchant_id == merchant_id and not self.is_expired(now)

    def takes_card_from(self, merchant_id: str, now: int) -> bool:
        """Whether make-payment may move it Created -> Processing now: the merchant's own,
        Created and unchanged since, not expired. (DynamoPaymentStore.mark_processing's
        condition expression states this rule for DynamoDB; the contract suite holds it.)"""
        return (
            self.merchant_id == merchant_id
            and self.status is PaymentStatus.CREATED
            and self.version == CREATED_VERSION
            and self.expires_at is not None
            and self.expires_at > now
        )

    def with_outcome(self, outcome: BankOutcome, now: int) -> Payment:
        """The bank answered. Its answer is recorded and the card is erased in the same
        write: once the bank has answered, even Pending, no card data is kept (PCI DSS
        3.3.1); a Pending payment is checked again by its idempotency key alone."""
        check_transition(self.status, outcome.status)
        return replace(
            self,
            status=outcome.status,
            version=self.version + 1,
            updated_at=now,
            fail_code=outcome.fail_code,
            fail_reason=outcome.fail_reason,
            card_ciphertext=None,
            bank_checks=self.bank_checks + 1,
            reconcile_count=0,
            reconciled_at=None,
            failure=None,
            enqueue_failed=False,
        )
