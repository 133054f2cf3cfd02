"""Bad input gets a clear 4xx naming what is wrong, and writes or queues nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ApiClient, AwsEnv, make_payment_body
from tests.support import SENTINEL_CVV, SENTINEL_PAN

MISSING = object()

# (field, bad value, why) -- each must be refused with 422 naming the field.
BAD_FIELDS: list[tuple[str, Any, str]] = [
    ("cardNumber", "4927381603901544", "fails Luhn"),
    ("cardNumber", "49273816039", "11 digits"),
    ("cardNumber", "4" * 20, "20 digits"),
    ("cardNumber", "4927-3816-0390-1543", "dashes"),
    ("cardNumber", "49273816039O1543", "a letter"),
    ("cardNumber", 4927381603901543, "a number, not a string"),
    ("cardNumber", "", "empty"),
    ("cardNumber", None, "null"),
    ("cardNumber", MISSING, "missing"),
    ("cvv", "12", "2 digits"),
    ("cvv", "12345", "5 digits"),
    ("cvv", "12a", "a letter"),
    ("cvv", 123, "a number"),
    ("cvv", MISSING, "missing"),
    ("amount", 0, "zero"),
    ("amount", -5, "negative"),
    ("amount", 100_000_000, "over the maximum"),
    ("amount", 12.5, "a fraction"),
    ("amount", "1250", "a string"),
    ("amount", True, "a boolean"),
    ("amount", None, "null"),
    ("amount", MISSING, "missing"),
    ("currency", "EURO", "four letters"),
    ("currency", "XYZ", "not ISO 4217"),
    ("currency", "", "empty"),
    ("currency", 978, "a number"),
    ("expiryMonth", 0, "month zero"),
    ("expiryMonth", 13, "month 13"),
    ("expiryMonth", "07", "a string"),
    ("expiryYear", 1999, "year too old"),
    ("expiryYear", 2026, "expired last year (the clock is in January 2027)"),
    ("expiryYear", 2099, "more than 20 years ahead"),
    ("expiryYear", "2031", "a string"),
    ("cardName", "", "empty"),
    ("cardName", "   ", "blank"),
    ("cardName", "A" * 101, "too long"),
    ("cardName", "Ada\u0000Lovelace", "a control character"),
    ("cardName", ["Ada"], "a list"),
    ("billingAddress", "x" * 201, "too long"),
    ("billingAddress", {"street": "1 Road"}, "an object"),
    ("billingAddress", MISSING, "missing"),
    ("paymentId", "", "empty"),
    ("paymentId", "../../etc/passwd", "not an identifier"),
    ("paymentId", "p" * 65, "too long"),
    ("merchantId", MISSING, "missing"),
    ("surprise", "field", "an unknown field"),
]


def _body_with(payment_id: str, field: str, value: Any) -> dict[str, Any]:
    body = make_payment_body(payment_id)
    if value is MISSING:
        del body[field]
    else:
        body[field] = value
    return body


@pytest.mark.parametrize(
    ("field", "value", "why"), BAD_FIELDS, ids=[f"{f}-{w}" for f, _, w in BAD_FIELDS]
)
def test_a_bad_field_is_422_naming_it_and_nothing_is_written(
    api: ApiClient, aws: AwsEnv, field: str, value: Any, why: str
) -> None:
    # GIVEN a fresh payment
    payment_id = api.create_payment()
    before = aws.raw_item(payment_id)

    # WHEN its card is submitted with one bad field
    response = api.post("/make-payment", _body_with(payment_id, field, value))

    # THEN
    assert response.status == 422, why
    assert response.body["failCode"] == "validation_failed"
    assert field in {issue["field"] for issue in response.body["fields"]}, response.body
    assert response.body["requestId"]
    assert aws.raw_item(payment_id) == before
    assert aws.queue_depth() == 0


def test_an_error_body_never_echoes_the_card(api: ApiClient) -> None:
    payment_id = api.create_payment()

    response = api.post("/make-payment", make_payment_body(payment_id, cvv="12", amount="x"))

    assert response.status == 422
    text = json.dumps(response.body)
    assert SENTINEL_PAN not in text
    assert SENTINEL_CVV not in text


def test_text_fields_are_trimmed(api: ApiClient, aws: AwsEnv) -> None:
    payment_id = api.create_payment()

    response = api.post(
        "/make-payment",
        make_payment_body(payment_id, cardName="  Ada Lovelace  ", currency=" eur "),
    )

    assert response.status == 202
    item = aws.raw_item(payment_id)
    assert item["cardName"] == {"S": "Ada Lovelace"}
    assert item["currency"] == {"S": "EUR"}


BAD_BODIES: list[tuple[str, str | bytes | None, dict[str, str], int, str]] = [
    ("malformed JSON", '{"paymentId": ', {"Content-Type": "application/json"}, 400, "body"),
    ("empty body", "", {"Content-Type": "application/json"}, 400, "body"),
    ("no body", None, {"Content-Type": "application/json"}, 400, "body"),
    ("an array", "[1, 2]", {"Content-Type": "application/json"}, 400, "body"),
    ("null", "null", {"Content-Type": "application/json"}, 400, "body"),
    ("a string", '"hello"', {"Content-Type": "application/json"}, 400, "body"),
    ("deep nesting", "[" * 10_000, {"Content-Type": "application/json"}, 400, "body"),
    ("not UTF-8", b"\xff\xfe{}", {"Content-Type": "application/json"}, 400, "body"),
    (
        "20 KiB",
        json.dumps({"cardName": "x" * 20_480}),
        {"Content-Type": "application/json"},
        413,
        "",
    ),
    ("form data", "a=b", {"Content-Type": "application/x-www-form-urlencoded"}, 415, ""),
    ("multipart without boundary", "--x", {"Content-Type": "multipart/form-data"}, 415, ""),
    ("text", "{}", {"Content-Type": "text/plain"}, 415, ""),
]


@pytest.mark.parametrize(
    ("why", "body", "headers", "status", "field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
@pytest.mark.parametrize("path", ["/make-payment", "/create-payment"])
def test_a_bad_body_is_a_4xx_and_nothing_is_written(
    api: ApiClient,
    aws: AwsEnv,
    path: str,
    why: str,
    body: str | bytes | None,
    headers: dict[str, str],
    status: int,
    field: str,
) -> None:
    response = api.call("POST", path, body=body, headers=headers)

    assert response.status == status, why
    assert response.body["failCode"]
    assert response.body["failReason"]
    if field:
        assert [issue["field"] for issue in response.body["fields"]] == [field]
    assert aws.payment_items() == []
    assert aws.queue_depth() == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "merchantId"),
        ({"merchantId": None}, "merchantId"),
        ({"merchantId": 42}, "merchantId"),
        ({"merchantId": "m" * 65}, "merchantId"),
        ({"merchantId": "merchant-a", "amount": 5}, "amount"),
    ],
)
def test_create_with_a_bad_field_is_422_naming_it(
    api: ApiClient, aws: AwsEnv, payload: dict[str, Any], field: str
) -> None:
    response = api.post("/create-payment", payload)

    assert response.status == 422
    assert [issue["field"] for issue in response.body["fields"]] == [field]
    assert aws.payment_items() == []
