"""What a merchant sees of a payment is decided once (core/domain/payment_view.py): the API's
response model and the webhook event's `data` show the same thing."""

from __future__ import annotations

import pytest

from core.domain.payment import FailureNotes, Payment, PaymentDetails, PaymentStatus
from core.domain.payment_view import PaymentView
from handlers.views import PaymentView as PaymentResponse

_DETAILS = PaymentDetails(
    amount=1250,
    currency="EUR",
    expiry_year=2030,
    expiry_month=7,
    card_name="Ada Lovelace",
    billing_address="12 St James's Square",
    card_last_four="4242",
    request_digest="digest",
)
_CREATED = Payment("pay_1", "ada", PaymentStatus.CREATED, 1, created_at=100, updated_at=100)
_IN_FLIGHT = Payment(
    "pay_2",
    "ada",
    PaymentStatus.PROCESSING,
    2,
    created_at=100,
    updated_at=160,
    details=_DETAILS,
    card_ciphertext=b"sealed",
    failure=FailureNotes("the bank timed out", first_at=150, last_at=160, count=2),
)
_DECLINED = Payment(
    "pay_3",
    "ada",
    PaymentStatus.DECLINED,
    3,
    created_at=100,
    updated_at=170,
    details=_DETAILS,
    fail_code="card_declined",
    fail_reason="the issuer declined the card",
    bank_checks=1,
)


@pytest.mark.parametrize("payment", [_CREATED, _IN_FLIGHT, _DECLINED], ids=lambda p: p.status)
@pytest.mark.parametrize("processing", [True, False], ids=["get", "list"])
def test_the_api_and_webhook_events_show_a_payment_alike(
    payment: Payment, processing: bool
) -> None:
    # GIVEN a payment
    # WHEN the API answers with it and a webhook event carries it
    answered = PaymentResponse.of(payment, processing=processing).to_json()
    carried = PaymentView.of(payment, processing=processing).to_json()

    # THEN both show the same fields with the same values
    assert answered == carried


def test_a_payment_in_flight_shows_its_card_masked_and_why_it_waits() -> None:
    # GIVEN a payment the worker failed twice to get the bank's answer for
    # WHEN its merchant looks at it
    shown = PaymentView.of(_IN_FLIGHT).to_json()

    # THEN the card is masked, the ciphertext absent, and the wait explained
    assert shown["cardNumber"] == "************4242"
    assert "sealed" not in str(shown) and "cardCiphertext" not in shown
    assert shown["status"] == "Processing"
    assert (shown["attempts"], shown["lastError"]) == (2, "the bank timed out")


def test_the_response_model_documents_every_field_of_the_view() -> None:
    # GIVEN the view and the response model the OpenAPI document is made from
    # THEN they have the same fields
    assert set(PaymentResponse.model_fields) == set(PaymentView.of(_CREATED).fields())


def test_a_declined_payment_reads_as_merchants_get_it_field_by_field() -> None:
    # A known answer: the names and values a merchant's code reads (get-payment, webhooks)
    assert PaymentView.of(_DECLINED).to_json() == {
        "paymentId": "pay_3",
        "merchantId": "ada",
        "status": "Declined",
        "creationTimestampSeconds": 100,
        "updatedAt": 170,
        "cardNumber": "************4242",
        "expiryYear": 2030,
        "expiryMonth": 7,
        "currency": "EUR",
        "amount": 1250,
        "cardName": "Ada Lovelace",
        "billingAddress": "12 St James's Square",
        "failCode": "card_declined",
        "failReason": "the issuer declined the card",
        "attempts": 1,
    }


def test_attempts_count_the_banks_answers_and_the_tries_that_got_none() -> None:
    assert PaymentView.of(_IN_FLIGHT).attempts == 2  # no answer yet, two tries noted
    assert PaymentView.of(_CREATED).attempts == 0
    assert PaymentView.of(_DECLINED, processing=False).attempts is None  # listings leave it out
    assert PaymentView.of(_IN_FLIGHT, processing=False).last_error is None


def test_a_fail_reason_without_a_fail_code_is_not_shown() -> None:
    quiet = Payment(
        "pay_4", "ada", PaymentStatus.ACCEPTED, 3, 100, 170, fail_reason="left from a try"
    )

    assert "failReason" not in PaymentView.of(quiet).to_json()
