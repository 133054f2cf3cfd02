"""What merchants get back: response models. The handlers answer with them and the OpenAPI
document (handlers/openapi.py) is generated from them, so the two cannot differ."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from core.domain.payment import Payment, PaymentStatus
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


class PaymentView(_View):
    """A payment as its merchant sees it: the card masked to its last four digits."""

    payment_id: str = _PAYMENT_ID
    merchant_id: str
    status: PaymentStatus = Field(
        description=(
            "Created, then Processing; Pending while the bank has not decided; final: "
            "Accepted, Declined, InsufficientFunds, or Failed"
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

    @classmethod
    def of(cls, payment: Payment) -> PaymentView:
        details = payment.details
        return cls(
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
        )


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
