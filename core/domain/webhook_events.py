"""Webhook events: one for each status a payment reaches, derived from the write itself
(the payments table's stream), named by what happened, identified by the payment and its
version, so the same write always makes the same event id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.domain.payment import Payment, PaymentStatus
from core.domain.payment_view import PaymentView

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
}
ALL_EVENT_TYPES = tuple(EVENT_TYPES.values())


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

    @property
    def id(self) -> str:
        return event_id(self.payment_id, self.version)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "created": self.created,
            "paymentId": self.payment_id,
            "merchantId": self.merchant_id,
            "version": self.version,
            "data": dict(self.data),
        }


def event_of_write(old: PaymentStatus | None, new: Payment) -> WebhookEvent | None:
    """The event a write to a payment makes (from `old`, None for a new item), or None:
    not a status reached."""
    event_type = event_type_of(old, new.status)
    if event_type is None:
        return None
    return WebhookEvent(
        type=event_type,
        created=new.updated_at,
        payment_id=new.payment_id,
        merchant_id=new.merchant_id,
        version=new.version,
        data=PaymentView.of(new).to_json(),
    )
