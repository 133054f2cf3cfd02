"""The payment record and its state machine. The rules of which status may follow which
live here and nowhere else: the authorization (Created -> Processing -> ... -> a bank
answer), what a manual capture holds (Authorized -> Accepted | Voided), and the refunds of
what was captured (core/domain/refunds.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from core.domain.cards import mask_card_number
from core.domain.errors import PaygateError
from core.domain.refunds import MAX_REFUNDS_PER_PAYMENT, Refund, RefundOutcome, RefundStatus

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
    # A manual capture's authorization: funds held, waiting for a capture or a void.
    AUTHORIZED = "Authorized"
    # An authorization released (by the merchant, or by paygate after AUTHORIZATION_HOLD).
    VOIDED = "Voided"

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
        PaymentStatus.VOIDED,
    }
)
# What the bank's answer to an authorization can make of a payment in flight.
_ANSWERED = frozenset({PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, *FINAL_STATUSES})

ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: frozenset({PaymentStatus.PROCESSING}),
    PaymentStatus.PROCESSING: _ANSWERED - {PaymentStatus.VOIDED},
    PaymentStatus.PENDING: _ANSWERED - {PaymentStatus.VOIDED},
    PaymentStatus.AUTHORIZED: frozenset({PaymentStatus.ACCEPTED, PaymentStatus.VOIDED}),
    **{status: frozenset() for status in FINAL_STATUSES},
}

# An authorization not captured within this is voided by paygate (card networks release
# uncaptured holds after about a week; Stripe and Adyen void at 7 days too).
AUTHORIZATION_HOLD_SECONDS = 7 * 24 * 3600


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class SettlementKind(StrEnum):
    CAPTURE = "capture"
    VOID = "void"


class VoidReason(StrEnum):
    REQUESTED = "requested_by_merchant"
    EXPIRED = "authorization_expired"


@dataclass(frozen=True)
class Settlement:
    """A capture or a void of an Authorized payment, asked for and not yet done with the
    bank: the worker's job while it is set."""

    kind: SettlementKind
    requested_at: int
    # A capture's amount (at most the authorized amount); 0 for a void.
    amount: int = 0
    void_reason: VoidReason | None = None

    def bank_key(self, payment_id: str) -> str:
        """Its own idempotency key at the bank, apart from the authorization's (the payment
        id): a retried or replayed capture or void never moves money twice."""
        return f"{payment_id}:{self.kind.value}"


class IllegalTransitionError(Exception):
    pass


class NotCapturableError(PaygateError):
    """Only an Authorized payment can be captured or voided, once."""


class CaptureExceedsAuthorizedError(PaygateError):
    """A capture takes at most the authorized amount."""

    field = "amount"


class NotRefundableError(PaygateError):
    """Only an Accepted payment that captured money can be refunded."""


class RefundExceedsCapturedError(PaygateError):
    """The refunds that have not failed would sum past the captured amount."""

    field = "amount"


class TooManyRefundsError(PaygateError):
    """A payment holds at most MAX_REFUNDS_PER_PAYMENT refunds."""


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
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC

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
    # When the bank authorized a manual capture (the hold runs from then).
    authorized_at: int | None = None
    captured_amount: int | None = None
    settlement: Settlement | None = None
    void_reason: VoidReason | None = None
    refunds: tuple[Refund, ...] = ()

    @property
    def capture_method(self) -> CaptureMethod:
        return self.details.capture_method if self.details else CaptureMethod.AUTOMATIC

    @property
    def hold_ends_at(self) -> int | None:
        """When an authorization's hold ends (it is voided then, never captured after)."""
        if self.authorized_at is None:
            return None
        return self.authorized_at + AUTHORIZATION_HOLD_SECONDS

    @property
    def has_work_in_flight(self) -> bool:
        """Whether the worker has something to do with the bank for it: the authorization
        (in flight), a capture or void asked for, or a refund Pending."""
        return (
            self.status.is_in_flight
            or self.settlement is not None
            or any(r.status is RefundStatus.PENDING for r in self.refunds)
        )

    @property
    def refunded_amount(self) -> int:
        return sum(r.amount for r in self.refunds if r.status is RefundStatus.SUCCEEDED)

    @property
    def refundable_amount(self) -> int:
        """What more may be refunded: captured less every refund that has not failed."""
        return (self.captured_amount or 0) - sum(r.amount for r in self.refunds if r.holds_money)

    @property
    def pending_refunds(self) -> list[Refund]:
        return [r for r in self.refunds if r.status is RefundStatus.PENDING]

    def refund(self, refund_id: str) -> Refund | None:
        return next((r for r in self.refunds if r.refund_id == refund_id), None)

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
        3.3.1); a Pending payment is checked again by its idempotency key alone. A manual
        capture's successful authorization is Authorized (held); an automatic one is
        Accepted, its whole amount captured."""
        status = outcome.status
        held = status is PaymentStatus.ACCEPTED and self.capture_method is CaptureMethod.MANUAL
        if held:
            status = PaymentStatus.AUTHORIZED
        check_transition(self.status, status)
        captured = self.details.amount if self.details else None
        return replace(
            self,
            status=status,
            version=self.version + 1,
            updated_at=now,
            authorized_at=now if held else None,
            captured_amount=captured if status is PaymentStatus.ACCEPTED else None,
            fail_code=outcome.fail_code,
            fail_reason=outcome.fail_reason,
            card_ciphertext=None,
            bank_checks=self.bank_checks + 1,
            reconcile_count=0,
            reconciled_at=None,
            failure=None,
            enqueue_failed=False,
        )

    def _changed(self, now: int, **changes: object) -> Payment:
        """A change of the money lifecycle: one version up, as every state change."""
        return replace(self, version=self.version + 1, updated_at=now, **changes)  # type: ignore[arg-type]

    def asks_capture(self, amount: int | None, now: int) -> Payment:
        """A capture of `amount` (the whole authorization if None) asked for: the worker's
        job. NotCapturableError unless Authorized with nothing asked yet."""
        authorized = self.details.amount if self.details else 0
        self._check_settleable()
        if self.hold_ends_at is not None and now >= self.hold_ends_at:
            raise NotCapturableError("the authorization expired after 7 days: it is being voided")
        take = authorized if amount is None else amount
        if take > authorized:
            raise CaptureExceedsAuthorizedError(
                f"a capture takes at most the authorized amount ({authorized})"
            )
        return self._changed(now, settlement=Settlement(SettlementKind.CAPTURE, now, amount=take))

    def asks_void(self, now: int, reason: VoidReason = VoidReason.REQUESTED) -> Payment:
        """The authorization's release asked for. NotCapturableError unless Authorized with
        nothing asked yet."""
        self._check_settleable()
        return self._changed(
            now, settlement=Settlement(SettlementKind.VOID, now, void_reason=reason)
        )

    def _check_settleable(self) -> None:
        if self.status is not PaymentStatus.AUTHORIZED:
            raise NotCapturableError(f"the payment is {self.status.value}, not Authorized")
        if self.settlement is not None:
            raise NotCapturableError(
                f"a {self.settlement.kind.value} of this payment is already under way"
            )

    def with_settlement_done(self, now: int) -> Payment:
        """The bank captured or voided it (the simulated bank never refuses either of an
        authorization it holds): Accepted with what it captured, or Voided."""
        done = self.settlement
        if done is None:
            raise IllegalTransitionError("no capture or void was asked for")
        capture = done.kind is SettlementKind.CAPTURE
        status = PaymentStatus.ACCEPTED if capture else PaymentStatus.VOIDED
        check_transition(self.status, status)
        return self._changed(
            now,
            status=status,
            captured_amount=done.amount if capture else None,
            void_reason=None if capture else done.void_reason,
            settlement=None,
            reconcile_count=0,
            reconciled_at=None,
            failure=None,
        )

    def asks_refund(self, refund: Refund, now: int) -> Payment:
        """`refund` added, Pending: the worker's job. Refused unless the payment is Accepted
        with at least its amount still refundable (the refunds that have not failed never
        sum past the captured amount: this check and the new refund are one write)."""
        if self.status is not PaymentStatus.ACCEPTED or not self.captured_amount:
            raise NotRefundableError(
                f"the payment is {self.status.value}: only a captured payment can be refunded"
            )
        if len(self.refunds) >= MAX_REFUNDS_PER_PAYMENT:
            raise TooManyRefundsError(f"a payment holds at most {MAX_REFUNDS_PER_PAYMENT} refunds")
        if refund.amount > self.refundable_amount:
            raise RefundExceedsCapturedError(
                f"at most {self.refundable_amount} of the captured {self.captured_amount} "
                "can still be refunded"
            )
        return self._changed(now, refunds=(*self.refunds, refund))

    def with_refund_outcome(self, refund_id: str, outcome: RefundOutcome, now: int) -> Payment:
        refunds = tuple(
            r.answered(outcome, now) if r.refund_id == refund_id else r for r in self.refunds
        )
        if refunds == self.refunds:
            raise IllegalTransitionError(f"no refund {refund_id}")
        return self._changed(
            now, refunds=refunds, reconcile_count=0, reconciled_at=None, failure=None
        )
