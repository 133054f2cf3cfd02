"""A payment as its merchant sees it: what get-payment and list-payments answer and what a
webhook event carries as its `data`. The card is masked to its last four digits; nothing
else of it is shown. handlers/views.py documents the same fields for the OpenAPI document
(tests/unit/test_payment_view.py holds the two to each other)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from core.domain.payment import CaptureMethod, Payment, PaymentStatus
from core.domain.refunds import Refund


@dataclass(frozen=True)
class PaymentView:
    payment_id: str
    merchant_id: str
    status: PaymentStatus
    creation_timestamp_seconds: int
    card_number: str | None = None
    expiry_year: int | None = None
    expiry_month: int | None = None
    currency: str | None = None
    amount: int | None = None
    card_name: str | None = None
    billing_address: str | None = None
    fail_code: str | None = None
    fail_reason: str | None = None
    updated_at: int | None = None
    # get-payment only: the bank's answers so far, plus the tries that got no answer since.
    attempts: int | None = None
    # get-payment only, while the bank is still to be asked (the authorization, a capture,
    # void or refund): why the last try did not get the bank's answer.
    last_error: str | None = None
    # Shown for a manual capture only (automatic is the default, and every older payment).
    capture_method: CaptureMethod | None = None
    captured_amount: int | None = None
    # A capture or void asked for and not yet done with the bank.
    settling: str | None = None
    void_reason: str | None = None
    refunded_amount: int | None = None
    refunds: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, payment: Payment, *, processing: bool = True) -> PaymentView:
        """`processing`: with how processing goes (attempts, last error), which listings
        leave out (their index holds none of it, so progress notes cost it nothing)."""
        details = payment.details
        failure = payment.failure if processing else None
        in_flight = payment.has_work_in_flight
        return cls(
            updated_at=payment.updated_at,
            attempts=payment.bank_checks + (failure.count if failure else 0)
            if processing
            else None,
            last_error=failure.reason if failure and in_flight else None,
            payment_id=payment.payment_id,
            merchant_id=payment.merchant_id,
            status=payment.status,
            creation_timestamp_seconds=payment.created_at,
            card_number=details.masked_card_number if details else None,
            expiry_year=details.expiry_year if details else None,
            expiry_month=details.expiry_month if details else None,
            currency=details.currency if details else None,
            amount=details.amount if details else None,
            card_name=details.card_name if details else None,
            billing_address=details.billing_address if details else None,
            fail_code=payment.fail_code,
            fail_reason=payment.fail_reason if payment.fail_code else None,
            capture_method=payment.capture_method
            if payment.capture_method is CaptureMethod.MANUAL
            else None,
            captured_amount=payment.captured_amount,
            settling=payment.settlement.kind.value if payment.settlement else None,
            void_reason=payment.void_reason.value if payment.void_reason else None,
            refunded_amount=payment.refunded_amount if payment.refunds else None,
            refunds=[refund_json(r) for r in payment.refunds] if payment.refunds else None,
        )

    def fields(self) -> dict[str, Any]:
        """Every field by its Python name, None included (what a response model is built
        from)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def to_json(self) -> dict[str, Any]:
        """As merchants read it: camelCase names, fields without a value left out."""
        return {
            _camel(name): value.value if isinstance(value, Enum) else value
            for name, value in self.fields().items()
            if value is not None
        }


def refund_json(refund: Refund) -> dict[str, Any]:
    """A refund as its merchant reads it (in get-payment, and in its events)."""
    shown = {
        "refundId": refund.refund_id,
        "amount": refund.amount,
        "status": refund.status.value,
        "reason": refund.reason,
        "failCode": refund.fail_code,
        "failReason": refund.fail_reason,
        "createdAt": refund.created_at,
        "updatedAt": refund.updated_at,
    }
    return {name: value for name, value in shown.items() if value is not None}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)
