"""Webhook events: one for each status a payment reaches, and one for each refund the bank
answered, derived from the write itself (the payments table's stream), named by what
happened, identified by the payment and its version, so the same write always makes the
same event id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.domain.payment import Payment, PaymentStatus
from core.domain.payment_view import PaymentView, refund_json
from core.domain.refunds import Refund, RefundStatus

EVENT_ID_PREFIX = "evt_"
# Events and their deliveries are kept this long (a merchant's history, replays).
EVENT_RETENTION_SECONDS = 90 * 24 * 3600
EVENT_TYPES: Mapping[PaymentStatus, str] = {
    PaymentStatus.PROCESSING: "payment.processing",
    PaymentStatus.PENDING: "payment.pending",
    PaymentStatus.ACCEPTED: "payment.accepted",
    PaymentStatus.DECLINED: "payment.declined",
    PaymentStatus.INSUFFICIENT_FUNDS: "payment.insufficient_funds",
    PaymentStatus.FAILED: "payment.failed",
    PaymentStatus.AUTHORIZED: "payment.authorized",
    PaymentStatus.VOIDED: "payment.voided",
}
# A refund the bank answered: one event for each, carrying the refund.
REFUND_EVENT_TYPES: Mapping[RefundStatus, str] = {
    RefundStatus.SUCCEEDED: "payment.refunded",
    RefundStatus.FAILED: "refund.failed",
}
ALL_EVENT_TYPES = (*EVENT_TYPES.values(), *REFUND_EVENT_TYPES.values())


def event_id(payment_id: str, version: int) -> str:
    return f"{EVENT_ID_PREFIX}{payment_id}_{version}"


def parse_event_id(value: str) -> tuple[str, int] | None:
    """(paymentId, version) of an event id, or None if it is not one."""
    if not value.startswith(EVENT_ID_PREFIX):
        return None
    payment_id, _, version = value.removeprefix(EVENT_ID_PREFIX).rpartition("_")
    # A version is a payment's count of writes: far below 15 digits (and int() refuses
    # thousands of them).
    if not payment_id or not (version.isascii() and version.isdigit() and len(version) <= 15):
        return None
    return payment_id, int(version)


def event_type_of(old: PaymentStatus | None, new: PaymentStatus) -> str | None:
    """The event a write from `old` to `new` makes: a status reached, never a repeat."""
    if old == new:
        return None
    return EVENT_TYPES.get(new)


@dataclass(frozen=True)
class WebhookEvent:
    """What a merchant receives: `data` is the payment as get-payment shows it (the card
    masked); never a card number, CVV or ciphertext."""

    type: str
    created: int
    payment_id: str
    merchant_id: str
    version: int
    data: Mapping[str, Any]
    # A refund's event: the refund the bank answered.
    refund: Mapping[str, Any] | None = None

    @property
    def id(self) -> str:
        return event_id(self.payment_id, self.version)

    def to_json(self) -> dict[str, Any]:
        shown = {
            "id": self.id,
            "type": self.type,
            "created": self.created,
            "paymentId": self.payment_id,
            "merchantId": self.merchant_id,
            "version": self.version,
            "data": dict(self.data),
        }
        return shown | ({"refund": dict(self.refund)} if self.refund is not None else {})


def event_of_write(old: Payment | None, new: Payment) -> WebhookEvent | None:
    """The event a write to a payment makes (from `old`, None for a new item), or None:
    neither a status reached nor a refund answered."""
    event_type = event_type_of(old.status if old else None, new.status)
    answered = _refund_answered(old, new) if event_type is None else None
    if answered is not None:
        event_type = REFUND_EVENT_TYPES[answered.status]
    if event_type is None:
        return None
    return WebhookEvent(
        type=event_type,
        created=new.updated_at,
        payment_id=new.payment_id,
        merchant_id=new.merchant_id,
        version=new.version,
        data=PaymentView.of(new).to_json(),
        refund=refund_json(answered) if answered else None,
    )


def _refund_answered(old: Payment | None, new: Payment) -> Refund | None:
    """The refund this write answered (Pending before, Succeeded or Failed now), if any."""
    pending = {r.refund_id for r in old.pending_refunds} if old else set()
    return next(
        (r for r in new.refunds if r.refund_id in pending and r.status is not RefundStatus.PENDING),
        None,
    )
