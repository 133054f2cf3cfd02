"""What merchants send: request models with every validation rule of the API contract.

Pass `context=ValidationContext(today=...)` to `model_validate` so that "expiry not in the
past" follows the injected clock; without it the real date is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from core.domain.cards import MAX_PAN_DIGITS, MIN_PAN_DIGITS, CardSecret, passes_luhn
from core.domain.currencies import is_known_currency
from core.domain.payment import CaptureMethod, PaymentStatus
from core.domain.refunds import MAX_REFUND_REASON_LENGTH
from core.domain.submission import SubmitCard
from core.domain.text_rules import (
    IDENTIFIER_PATTERN,
    MAX_IDENTIFIER_LENGTH,
    contains_card_number,
    text_problem,
)
from core.domain.webhook_events import ALL_EVENT_TYPES
from core.domain.webhook_urls import MAX_URL_LENGTH
from core.domain.webhooks import ENDPOINT_ID
from core.use_cases.payment_listing import ListPayments

MIN_AMOUNT = 1
MAX_AMOUNT = 99_999_999
MAX_EXPIRY_YEARS_AHEAD = 20
# Payment ids are the UUIDs create-payment hands out; nothing else can name a payment.
_PAYMENT_ID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# The last second of year 9999: a bound for epoch-second query parameters.
MAX_EPOCH_SECONDS = 253_402_300_799
# The pydantic error type of a card number typed into free text; the API answers it with
# its own failCode.
CARD_DATA_IN_TEXT = "card_data_in_text"


@dataclass(frozen=True)
class ValidationContext:
    today: date


def _today(info: ValidationInfo) -> date:
    context = info.context
    if isinstance(context, ValidationContext):
        return context.today
    return datetime.now(tz=UTC).date()


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _free_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    if contains_card_number(value):
        raise PydanticCustomError(
            CARD_DATA_IN_TEXT, "looks like a card number: card numbers go in cardNumber only"
        )
    return value


def _payment_id(value: object) -> object:
    if isinstance(value, str) and not re.match(_PAYMENT_ID, value.strip()):
        raise ValueError("is not a payment id (a UUID from create-payment)")
    return value.strip().lower() if isinstance(value, str) else value


def _card_number(value: str) -> str:
    digits = value.replace(" ", "")
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("must contain digits only")
    if not MIN_PAN_DIGITS <= len(digits) <= MAX_PAN_DIGITS:
        raise ValueError(f"must have {MIN_PAN_DIGITS} to {MAX_PAN_DIGITS} digits")
    if not passes_luhn(digits):
        raise ValueError("is not a valid card number (Luhn check failed)")
    return digits


def _cvv(value: str) -> str:
    if not (value.isascii() and value.isdigit() and 3 <= len(value) <= 4):
        raise ValueError("must be 3 or 4 digits")
    return value


def _currency(value: str) -> str:
    code = value.upper()
    if not is_known_currency(code):
        raise ValueError("must be an ISO 4217 currency code, such as EUR or USD")
    return code


Identifier = Annotated[
    StrictStr,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, pattern=IDENTIFIER_PATTERN),
]
PaymentId = Annotated[
    StrictStr,
    BeforeValidator(_payment_id),
    Field(min_length=36, max_length=36, pattern=_PAYMENT_ID, json_schema_extra={"format": "uuid"}),
]
CardText = Annotated[
    StrictStr,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=100),
    AfterValidator(_free_text),
]
AddressText = Annotated[
    StrictStr,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=200),
    AfterValidator(_free_text),
]
ReasonText = Annotated[
    StrictStr,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=MAX_REFUND_REASON_LENGTH),
    AfterValidator(_free_text),
]


class _Request(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        hide_input_in_errors=True,
        # Built on first use: an entry point builds only the models it validates with.
        defer_build=True,
    )


# Examples shown in the API's documentation: a test card that passes the Luhn check and
# an expiry in the future, EUR 12.50. The local stack puts a live payment id in their place.
EXAMPLE_MERCHANT_ID = "dev-merchant"
EXAMPLE_PAYMENT_ID = "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"
_MERCHANT_ID_FIELD = Field(
    description="Your merchant id (it must be the one your API key belongs to)",
    examples=[EXAMPLE_MERCHANT_ID],
)
_PAYMENT_ID_FIELD = Field(
    description="The payment id create-payment returned", examples=[EXAMPLE_PAYMENT_ID]
)


class CreatePaymentRequest(_Request):
    merchant_id: Identifier = _MERCHANT_ID_FIELD


class MakePaymentRequest(_Request):
    payment_id: PaymentId = _PAYMENT_ID_FIELD
    merchant_id: Identifier = _MERCHANT_ID_FIELD
    card_number: Annotated[StrictStr, BeforeValidator(_strip), AfterValidator(_card_number)] = (
        Field(
            repr=False,
            description="12 to 19 digits passing the Luhn check (spaces allowed)",
            examples=["4242424242424242"],
        )
    )
    expiry_year: StrictInt = Field(
        ge=2000, le=2100, description="Four digits; not in the past", examples=[2035]
    )
    expiry_month: StrictInt = Field(
        ge=1, le=12, description="1 to 12; not in the past", examples=[12]
    )
    currency: Annotated[StrictStr, BeforeValidator(_strip), AfterValidator(_currency)] = Field(
        description="An ISO 4217 code", examples=["EUR"]
    )
    amount: StrictInt = Field(
        ge=MIN_AMOUNT,
        le=MAX_AMOUNT,
        description=(
            "In the currency's minor units (1250 is EUR 12.50). The simulated bank: 1 is "
            "Declined, 2 InsufficientFunds, 24 Pending then Accepted, 503 fails twice then "
            "Accepted, 504 never answers (the DLQ), anything else Accepted"
        ),
        examples=[1250],
    )
    card_name: CardText = Field(
        description="The card holder's name as printed on the card", examples=["Ada Lovelace"]
    )
    billing_address: AddressText = Field(
        description="The card holder's billing address", examples=["12 Analytical Row, London"]
    )
    cvv: Annotated[StrictStr, BeforeValidator(_strip), AfterValidator(_cvv)] = Field(
        repr=False,
        description="3 or 4 digits; never stored once the bank has answered",
        examples=["123"],
    )
    capture_method: CaptureMethod = Field(
        default=CaptureMethod.AUTOMATIC,
        description="automatic: captured when authorized (Accepted). manual: the funds are "
        "held (Authorized) until capture-payment or void-payment; voided after 7 days",
    )

    @field_validator("expiry_year")
    @classmethod
    def _year_not_past(cls, year: int, info: ValidationInfo) -> int:
        today = _today(info)
        if year < today.year:
            raise ValueError(f"card expired: {year} is before the current year")
        if year > today.year + MAX_EXPIRY_YEARS_AHEAD:
            raise ValueError(f"expiry year is more than {MAX_EXPIRY_YEARS_AHEAD} years ahead")
        return year

    @field_validator("expiry_month")
    @classmethod
    def _month_not_past(cls, month: int, info: ValidationInfo) -> int:
        today = _today(info)
        if info.data.get("expiry_year") == today.year and month < today.month:
            raise ValueError(f"card expired: {month:02d}/{today.year} is before the current month")
        return month

    @property
    def card_secret(self) -> CardSecret:
        return CardSecret(pan=self.card_number, cvv=self.cvv)

    def command(self) -> SubmitCard:
        """What the use case carries out (its digest still to be computed)."""
        return SubmitCard(
            payment_id=self.payment_id,
            merchant_id=self.merchant_id,
            card=self.card_secret,
            amount=self.amount,
            currency=self.currency,
            expiry_year=self.expiry_year,
            expiry_month=self.expiry_month,
            card_name=self.card_name,
            billing_address=self.billing_address,
            capture_method=self.capture_method,
        )


class PaymentOperationRequest(_Request):
    """What capture, void and refund each name: the merchant and its payment."""

    merchant_id: Identifier = _MERCHANT_ID_FIELD
    payment_id: PaymentId = _PAYMENT_ID_FIELD


class CapturePaymentRequest(PaymentOperationRequest):
    amount: StrictInt | None = Field(
        default=None,
        ge=MIN_AMOUNT,
        le=MAX_AMOUNT,
        description="How much to capture, in minor units, at most the authorized amount "
        "(the rest is released); all of it if left out",
        examples=[1000],
    )


class VoidPaymentRequest(PaymentOperationRequest):
    pass


class RefundPaymentRequest(PaymentOperationRequest):
    amount: StrictInt = Field(
        ge=MIN_AMOUNT,
        le=MAX_AMOUNT,
        description="How much to give back, in minor units: with the refunds before it that "
        "have not failed, at most the captured amount. The simulated bank declines 3",
        examples=[500],
    )
    reason: ReasonText | None = Field(
        default=None,
        description="Why, for your records (shown with the refund)",
        examples=["returned goods"],
    )


class GetPaymentQuery(_Request):
    merchant_id: Identifier = _MERCHANT_ID_FIELD
    payment_id: PaymentId = _PAYMENT_ID_FIELD


MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_CURSOR_LENGTH = 2048


class ListPaymentsQuery(_Request):
    """Query strings arrive as text: numbers here are parsed from it."""

    merchant_id: Identifier = _MERCHANT_ID_FIELD
    from_time: int | None = Field(
        default=None,
        alias="from",
        ge=0,
        le=MAX_EPOCH_SECONDS,
        description="Created at or after this time, in epoch seconds",
    )
    to_time: int | None = Field(
        default=None,
        alias="to",
        ge=0,
        le=MAX_EPOCH_SECONDS,
        description="Created at or before this time, in epoch seconds",
    )
    status: PaymentStatus | None = Field(default=None, description="Only this status")
    limit: int = Field(
        default=DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description="At most this many per page (a page may be shorter while nextCursor is set)",
    )
    cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        description="The nextCursor of the previous page",
    )

    def listing(self) -> ListPayments:
        return ListPayments(
            merchant_id=self.merchant_id,
            created_from=self.from_time,
            created_to=self.to_time,
            status=self.status,
            limit=self.limit,
            cursor=self.cursor,
        )

    @field_validator("to_time")
    @classmethod
    def _window_in_order(cls, to_time: int | None, info: ValidationInfo) -> int | None:
        from_time = info.data.get("from_time")
        if to_time is not None and from_time is not None and to_time < from_time:
            raise ValueError("must not be before `from`")
        return to_time


EventType = Literal[
    "payment.processing",
    "payment.pending",
    "payment.accepted",
    "payment.declined",
    "payment.insufficient_funds",
    "payment.failed",
    "payment.authorized",
    "payment.voided",
    "payment.refunded",
    "refund.failed",
]
_ENDPOINT_ID_FIELD = Field(
    description="The endpoint's id, from POST or GET /webhook-endpoints",
    pattern=f"^{ENDPOINT_ID.pattern}$",
    examples=["we_0123456789abcdef0123"],
)


class CreateWebhookEndpointRequest(_Request):
    merchant_id: Identifier = _MERCHANT_ID_FIELD
    url: StrictStr = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Where to POST events: https, to a public address",
        examples=["https://shop.example.com/paygate/webhooks"],
    )
    event_types: list[EventType] | None = Field(
        default=None,
        min_length=1,
        max_length=len(ALL_EVENT_TYPES),
        description="Only these event types (default: every one)",
    )


class WebhookEndpointsQuery(_Request):
    merchant_id: Identifier = _MERCHANT_ID_FIELD


class WebhookEndpointQuery(_Request):
    merchant_id: Identifier = _MERCHANT_ID_FIELD
    id: str = _ENDPOINT_ID_FIELD


class RotateWebhookSecretRequest(_Request):
    merchant_id: Identifier = _MERCHANT_ID_FIELD
    id: str = _ENDPOINT_ID_FIELD


class PaymentEventsQuery(_Request):
    merchant_id: Identifier = _MERCHANT_ID_FIELD
    payment_id: PaymentId = _PAYMENT_ID_FIELD
