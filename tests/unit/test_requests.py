from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from handlers.requests import MakePaymentRequest, ValidationContext
from tests.support import SENTINEL_CVV, SENTINEL_PAN


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "paymentId": "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
        "merchantId": "m-1",
        "cardNumber": SENTINEL_PAN,
        "expiryYear": 2027,
        "expiryMonth": 3,
        "currency": "USD",
        "amount": 99_999_999,
        "cardName": "Ada",
        "billingAddress": "1 Road",
        "cvv": SENTINEL_CVV,
    }
    return body | overrides


def _validate(body: dict[str, Any], today: date = date(2027, 3, 15)) -> MakePaymentRequest:
    return MakePaymentRequest.model_validate(body, context=ValidationContext(today=today))


def test_a_card_expiring_this_month_is_still_valid() -> None:
    assert _validate(_body()).expiry_month == 3


def test_a_card_that_expired_last_month_is_refused_on_the_month() -> None:
    with pytest.raises(ValidationError) as refused:
        _validate(_body(expiryMonth=2))

    assert [error["loc"] for error in refused.value.errors()] == [("expiryMonth",)]


def test_the_card_number_may_be_grouped_with_spaces() -> None:
    request = _validate(_body(cardNumber="4927 3816 0390 1543"))

    assert request.card_number == SENTINEL_PAN


def test_the_largest_amount_is_accepted_and_one_more_is_not() -> None:
    assert _validate(_body()).amount == 99_999_999
    with pytest.raises(ValidationError):
        _validate(_body(amount=100_000_000))


def test_a_request_never_shows_its_card_in_repr_or_errors() -> None:
    request = _validate(_body())
    with pytest.raises(ValidationError) as refused:
        _validate(_body(amount="lots"))

    assert SENTINEL_PAN not in repr(request)
    assert SENTINEL_CVV not in repr(request)
    assert SENTINEL_PAN not in str(refused.value)
