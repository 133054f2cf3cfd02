"""What merchants get back: response models. The handlers answer with them and the OpenAPI
document (handlers/openapi.py) is generated from them, so the two cannot differ."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from core.domain.payment import CaptureMethod, Payment, PaymentStatus
from core.domain.payment_view import PaymentView as MerchantView
from core.domain.refunds import RefundStatus
from core.domain.webhooks import WebhookEndpoint
from handlers.http_errors import FieldIssue


class _View(BaseModel):
    # Built on first use: an entry point builds only the models it answers with.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


_PAYMENT_ID = Field(description="The payment's id: use it with make-payment and get-payment")
_CREATED_AT = Field(description="When the payment id was created, in epoch seconds")


class CreatedPayment(_View):
    payment_id: str = _PAYMENT_ID
    status: PaymentStatus = Field(description="Always Created", examples=["Created"])
    creation_timestamp_seconds: int = _CREATED_AT


class SubmittedPayment(_View):
    payment_id: str = _PAYMENT_ID
    status: PaymentStatus = Field(
        description="Processing; or, for a repeated request, where the payment stands now",
        examples=["Processing"],
    )


class RefundView(_View):
    refund_id: str = Field(
        description="The refund's id", examples=["rf_0123456789abcdef0123456789abcdef"]
    )
    amount: int = Field(description="In minor units")
    status: RefundStatus = Field(description="Pending, then Succeeded or Failed")
    reason: str | None = None
    fail_code: str | None = Field(default=None, description="When Failed: refund_declined")
    fail_reason: str | None = None
    created_at: int = Field(description="When it was asked for, in epoch seconds")
    updated_at: int = Field(description="When it last changed, in epoch seconds")


class RefundAnswer(_View):
    refund_id: str = Field(description="The refund's id (in get-payment's refunds)")
    payment_id: str = _PAYMENT_ID
    amount: int = Field(description="In minor units")
    status: RefundStatus = Field(
        description="Pending: the bank is asked next", examples=["Pending"]
    )


# The fields of core/domain/payment_view.py's PaymentView, documented (its docstring is
# the schema's description in docs/openapi.json).
class PaymentView(_View):
    """A payment as its merchant sees it: the card masked to its last four digits."""

    payment_id: str = _PAYMENT_ID
    merchant_id: str
    status: PaymentStatus = Field(
        description=(
            "Created, then Processing; Pending while the bank has not decided; final: "
            "Accepted, Declined, InsufficientFunds, or Failed. A manual capture's "
            "authorization is Authorized until captured (Accepted) or voided (Voided)"
        )
    )
    creation_timestamp_seconds: int = _CREATED_AT
    card_number: str | None = Field(
        default=None, description="Masked: the last four digits only", examples=["************4242"]
    )
    expiry_year: int | None = None
    expiry_month: int | None = None
    currency: str | None = None
    amount: int | None = Field(default=None, description="In the currency's minor units")
    card_name: str | None = None
    billing_address: str | None = None
    fail_code: str | None = Field(
        default=None,
        description="When refused: card_declined, insufficient_funds or processing_failed",
    )
    fail_reason: str | None = Field(default=None, description="The refusal, in words")
    updated_at: int | None = Field(
        default=None, description="When the payment last changed, in epoch seconds"
    )
    attempts: int | None = Field(
        default=None,
        description="get-payment only: the bank's answers so far, plus the tries that got "
        "no answer since the last one (a failure or time-out; retries within one try are "
        "not counted)",
    )
    last_error: str | None = Field(
        default=None,
        description="get-payment only, while in flight: why the last try did not get the "
        "bank's answer (paygate retries by itself)",
    )
    capture_method: CaptureMethod | None = Field(
        default=None, description="manual, when make-payment asked for it (else automatic)"
    )
    captured_amount: int | None = Field(
        default=None, description="Once captured: how much, in minor units"
    )
    settling: str | None = Field(
        default=None,
        description="capture or void: asked for, and on its way to the bank",
    )
    void_reason: str | None = Field(
        default=None,
        description="Once Voided: requested_by_merchant, or authorization_expired (not "
        "captured within 7 days)",
    )
    refunded_amount: int | None = Field(
        default=None, description="The sum of the refunds that succeeded, in minor units"
    )
    refunds: list[RefundView] | None = Field(
        default=None, description="Every refund asked for, oldest first"
    )

    @classmethod
    def of(cls, payment: Payment, *, processing: bool = True) -> PaymentView:
        """The merchant's view of `payment` (core/domain/payment_view.py), as a response."""
        return cls(**MerchantView.of(payment, processing=processing).fields())


class PaymentPage(_View):
    payments: list[PaymentView]
    # Pass it back as `cursor` for the next page; null on the last page.
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "payments": [payment.to_json() for payment in self.payments],
            "nextCursor": self.next_cursor,
        }


class FieldProblem(_View):
    field: str
    issue: str


class ErrorBody(_View):
    fail_code: str
    fail_reason: str
    request_id: str
    fields: list[FieldProblem] | None = None

    @classmethod
    def of(
        cls, fail_code: str, fail_reason: str, request_id: str, fields: tuple[FieldIssue, ...] = ()
    ) -> ErrorBody:
        return cls(
            fail_code=fail_code,
            fail_reason=fail_reason,
            request_id=request_id,
            fields=[FieldProblem(field=f.field, issue=f.issue) for f in fields] or None,
        )


class WebhookEndpointView(_View):
    id: str = Field(description="The endpoint's id")
    url: str
    event_types: list[str] = Field(description="The event types it receives")
    created_at: int = Field(description="When it was registered, in epoch seconds")
    secret: str | None = Field(
        default=None,
        description="The signing secret: shown once, when the endpoint is created or its "
        "secret rotated (the previous one keeps signing for 24 hours)",
    )

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, secret: str | None = None) -> WebhookEndpointView:
        raw = endpoint.to_json()
        return cls(
            id=raw["id"],
            url=raw["url"],
            event_types=raw["eventTypes"],
            created_at=raw["createdAt"],
            secret=secret,
        )


class WebhookEndpointList(_View):
    endpoints: list[WebhookEndpointView]


class PaymentEvents(_View):
    """A payment's events, oldest first, each with its deliveries and their attempts."""

    events: list[dict[str, Any]] = Field(
        description="Each event as delivered (id, type, created, paymentId, merchantId, "
        "version, data) plus deliveries: endpointId, url, state (retrying, delivered, "
        "failed, or ended with a reason) and attempts (at, ms, status or error)"
    )


class WebhookEventPayload(_View):
    """What paygate POSTs to a webhook endpoint: never a card number, CVV or ciphertext."""

    id: str = Field(description="The event's id: the same on every delivery of it (dedupe on it)")
    type: str = Field(
        description="payment.processing, payment.pending, payment.accepted, "
        "payment.declined, payment.insufficient_funds or payment.failed"
    )
    created: int = Field(description="When the payment reached the status, in epoch seconds")
    payment_id: str
    merchant_id: str
    version: int = Field(description="The payment's version: order events of a payment by it")
    data: PaymentView = Field(description="The payment as get-payment shows it, card masked")
