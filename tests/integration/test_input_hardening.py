"""Input an attacker or a confused client sends: always a 4xx that names the problem and
writes nothing, never a 5xx, never card data kept in the clear."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.adapters.dynamodb_payments import max_list_queries
from tests.conftest import ApiClient, AwsEnv, make_payment_body
from tests.faults import throttle
from tests.support import SENTINEL_PAN, FakeClock, alter_cursor, card_data_leaks

# Luhn-valid test numbers in the forms people type them.
CARD_IN_TEXT = [
    "Ada 4242424242424242",
    "4242 4242 4242 4242 Road",
    "4242-4242-4242-4242",
    "Flat 378282246310005",  # 15 digits (Amex)
    "card " + "\uff14\uff12" * 8,  # full-width digits
    "paid with 4242 4242 4242 4242, exp 12/30",  # a comma ends the run
    "4242 - 4242 - 4242 - 4242",
    "4242.4242.4242.4242",
    "4242/4242/4242/4242",
    "4242_4242_4242_4242",
    "4242   4242   4242   4242",
    "4242\u30004242\u30004242\u30004242",  # ideographic spaces
    "4242\u20094242\u20094242\u20094242",  # thin spaces
    "4242\u20144242\u20144242\u20144242",  # em dashes
    "4242\u22124242\u22124242\u22124242",  # minus signs
    "4242\u200b4242\u200b4242\u200b4242",  # zero-width spaces
    "4242\u00ad4242\u00ad4242\u00ad4242",  # soft hyphens
    "\u2074\u00b2" * 8,  # superscript digits
    "\u2463\u2461" * 8,  # circled digits
    "4242    4242    4242    4242",
    "4242 -- 4242 -- 4242 -- 4242",
    "4242|4242|4242|4242",
    "#4242#4242#4242#4242",
    "(4242) 4242 4242 4242",
    "[4242][4242][4242][4242]",
    '"4242" "4242" "4242" "4242"',
    "4242\u20224242\u20224242\u20224242",  # bullets
    "4242\u22154242\u22154242\u22154242",  # division slashes
    "4\u03322\u03324\u03322\u0332" * 4,  # combining low lines
    "4\ufe0f\u20e32\ufe0f\u20e3" * 8,  # keycaps
    "4242\u31644242\u31644242\u31644242",  # Hangul fillers between the groups
]
BAD_TEXT = [
    ("Ada\ud800", "a lone surrogate"),
    ("Ada\u0085Lovelace", "a C1 control (NEL)"),
    ("Ada\u009bLovelace", "a C1 control (CSI)"),
    ("Ada\u202eecalevoL", "a bidi override"),
    ("Ada\u2066Lovelace\u2069", "a bidi isolate"),
    ("Ada\u2028Lovelace", "a line separator"),
    ("Ada\u2029Lovelace", "a paragraph separator"),
    ("\u200b\u200b\u200b", "zero-width spaces only"),
    ("\u200d\ufeff", "invisible format characters only"),
    ("\u3164\u3164", "Hangul fillers only"),
]


def _make(api: ApiClient, aws: AwsEnv, **fields: Any) -> tuple[Any, str]:
    payment_id = api.create_payment()
    return api.post("/make-payment", make_payment_body(payment_id, **fields)), payment_id


@pytest.mark.parametrize("field", ["cardName", "billingAddress"])
@pytest.mark.parametrize(("text", "why"), BAD_TEXT, ids=[why for _, why in BAD_TEXT])
def test_text_a_person_did_not_type_is_refused(
    api: ApiClient, aws: AwsEnv, field: str, text: str, why: str
) -> None:
    response, payment_id = _make(api, aws, **{field: text})

    assert response.status == 422, why
    assert response.body["failCode"] == "validation_failed"
    assert [issue["field"] for issue in response.body["fields"]] == [field]
    assert aws.raw_item(payment_id)["status"] == {"S": "Created"}
    assert aws.queue_depth() == 0


@pytest.mark.parametrize("field", ["cardName", "billingAddress"])
@pytest.mark.parametrize("text", CARD_IN_TEXT)
def test_a_card_number_in_free_text_is_refused_and_never_stored(
    api: ApiClient, aws: AwsEnv, field: str, text: str
) -> None:
    response, payment_id = _make(api, aws, **{field: text})

    assert response.status == 422
    assert response.body["failCode"] == "card_data_in_text"
    assert [issue["field"] for issue in response.body["fields"]] == [field]
    item = aws.raw_item(payment_id)
    assert item["status"] == {"S": "Created"} and field not in item
    # (the requestId is random hex: it may hold 4242 by chance)
    assert "4242" not in json.dumps({**response.body, "requestId": ""})


@pytest.mark.parametrize("place", ["body key", "query name"])
def test_a_card_number_sent_as_a_field_name_is_never_echoed(api: ApiClient, place: str) -> None:
    if place == "body key":
        response = api.post("/create-payment", {"merchantId": "merchant-a", SENTINEL_PAN: "1"})
    else:
        response = api.get(
            "/list-payments", {"merchantId": "merchant-a", f"card{SENTINEL_PAN}": "1"}
        )

    assert response.status in (400, 422)
    assert card_data_leaks(response.body) == []
    assert [issue["field"] for issue in response.body["fields"]] == ["(an unknown field)"]


@pytest.mark.parametrize(
    "key",
    [
        "4242.4242.4242.4242",
        "order_4242_4242_4242_4242",
        f"o-{SENTINEL_PAN}",
        "acc-1796404113495498320",
        "inv_20261204692651000",
    ],
)
def test_any_idempotency_key_is_honoured_and_kept_only_as_its_keyed_digest(
    api: ApiClient, aws: AwsEnv, key: str, no_card_data_in_output: Any
) -> None:
    # GIVEN a key that holds digits a card could have, or a merchant's timestamp
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}

    # WHEN it is sent twice with the same request
    first = api.post("/create-payment", {"merchantId": "merchant-a"}, headers=headers)
    again = api.post("/create-payment", {"merchantId": "merchant-a"}, headers=headers)

    # THEN it is honoured, and neither the table nor the logs hold the key, only a digest
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    stored = aws.dynamodb.scan(TableName=aws.settings.idempotency_table)["Items"]
    assert len(stored) == 1
    assert key not in str(stored)
    assert no_card_data_in_output.lines
    assert not [line for line in no_card_data_in_output.lines if key in line]
    assert card_data_leaks(stored) == []


def test_the_sentinel_card_in_an_address_never_reaches_storage_or_logs(
    api: ApiClient, aws: AwsEnv
) -> None:
    response, _ = _make(api, aws, billingAddress=f"PO Box {SENTINEL_PAN}")

    assert response.status == 422
    assert card_data_leaks(aws.payment_items(), response.body) == []


@pytest.mark.parametrize(
    "text",
    ["Ada Lovelace", "Zoë O'Brien-Łukasiewicz", "李小龍", "مريم", "12 Analytical Row, Flat 4"],
)
def test_ordinary_names_and_addresses_pass(api: ApiClient, aws: AwsEnv, text: str) -> None:
    response, _ = _make(api, aws, cardName=text, billingAddress=text)

    assert response.status == 202, response.body


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("a second merchantId", '{"merchantId": "merchant-b", "merchantId": "merchant-a"}'),
        ("UTF-16", '{"merchantId": "merchant-a"}'.encode("utf-16")),
        ("UTF-32", '{"merchantId": "merchant-a"}'.encode("utf-32")),
        ("UTF-16 without a BOM", '{"merchantId": "merchant-a"}'.encode("utf-16-le")),
        ("Latin-1", '{"merchantId": "caf\xe9"}'.encode("latin-1")),
    ],
)
def test_duplicate_keys_and_bodies_not_in_utf8_are_400(
    api: ApiClient, aws: AwsEnv, why: str, body: str | bytes
) -> None:
    response = api.call("POST", "/create-payment", body=body)

    assert response.status == 400, why
    assert response.body["failCode"] == "malformed_request"
    assert aws.payment_items() == []


def test_a_different_cvv_or_pan_with_the_same_bin_and_last_four_is_409(
    api: ApiClient, aws: AwsEnv
) -> None:
    # GIVEN a submitted payment
    payment_id = api.create_payment()
    assert api.post("/make-payment", make_payment_body(payment_id)).status == 202

    # WHEN the same payment id comes with another CVV, or another valid PAN sharing the
    # first six and last four digits
    other_cvv = api.post("/make-payment", make_payment_body(payment_id, cvv="1111"))
    other_pan = api.post(
        "/make-payment", make_payment_body(payment_id, cardNumber="4927380000001543")
    )
    same = api.post("/make-payment", make_payment_body(payment_id))

    # THEN both are a different request; the same one repeats
    assert (other_cvv.status, other_pan.status, same.status) == (409, 409, 202)
    assert aws.queue_depth() == 1
    assert SENTINEL_PAN not in json.dumps(aws.raw_item(payment_id)["requestDigest"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "9" * 39}, "to"),
        ({"from": "1" + "0" * 40}, "from"),
        ({"from": "253402300800"}, "from"),
        ({"cursor": "eyJ2IjoyLCJtIjoibWVyY2hhbnQtYSJ9.AAAA"}, "cursor"),
        ({"cursor": "x" * 3000}, "cursor"),
        ({"cursor": "a.b=="}, "cursor"),
        ({"cursor": "a+/.b"}, "cursor"),
    ],
)
def test_numeric_and_cursor_parameters_are_bounded_and_checked(
    api: ApiClient, params: dict[str, str], field: str
) -> None:
    response = api.get("/list-payments", {"merchantId": "merchant-a"} | params)

    assert response.status == 400
    assert field in {issue["field"] for issue in response.body["fields"]}


def test_a_cursor_whose_position_was_altered_is_refused(api: ApiClient, clock: FakeClock) -> None:
    # GIVEN a real cursor
    for _ in range(3):
        api.create_payment()
        clock.advance(1)
    cursor = api.get("/list-payments", {"merchantId": "merchant-a", "limit": "1"}).body[
        "nextCursor"
    ]
    payload, _, signature = cursor.partition(".")

    # WHEN its position is changed to "²" (a digit to str.isdigit) or the signature is cut
    def superscript(_: dict[str, Any], position: dict[str, Any]) -> None:
        position["createdAt"] = "\u00b2"

    forged = alter_cursor(cursor, superscript)
    padded = payload + "=" * (-len(payload) % 4 or 4)
    candidates = (
        forged,
        payload,
        f"{payload}.{signature[:-2]}",
        f"{padded}.{signature}",
        f"{payload}.{signature}==",
    )
    answers = [
        api.get("/list-payments", {"merchantId": "merchant-a", "cursor": candidate})
        for candidate in candidates
    ]

    # THEN each is 400, never a 5xx, while the cursor as issued works
    assert [answer.status for answer in answers] == [400] * len(candidates)
    assert api.get("/list-payments", {"merchantId": "merchant-a", "cursor": cursor}).status == 200


def test_a_filtered_listing_does_bounded_work_per_call_and_pages_to_the_end(
    api: ApiClient, aws: AwsEnv, clock: FakeClock, services: Any
) -> None:
    # GIVEN 700 payments of which only the oldest is still Created, the rest Processing
    # (written directly: the listing is what is measured)
    oldest = api.create_payment()
    clock.advance(1)
    for _ in range(700):
        payment_id = api.create_payment()
        aws.dynamodb.update_item(
            TableName=aws.settings.payments_table,
            Key={"paymentId": {"S": payment_id}},
            UpdateExpression="SET #status = :processing",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":processing": {"S": "Processing"}},
        )
    queries: list[str] = []
    services.clients.dynamodb.meta.events.register(
        "before-call.dynamodb.Query", lambda model, **_: queries.append(model.name)
    )

    # WHEN the merchant lists Created payments one at a time, following the cursors
    calls, found, cursor = [], [], None
    while True:
        params = {"merchantId": "merchant-a", "status": "Created", "limit": "1"}
        response = api.get("/list-payments", params | ({"cursor": cursor} if cursor else {}))
        assert response.status == 200
        calls.append(len(queries))
        queries.clear()
        found += [p["paymentId"] for p in response.body["payments"]]
        cursor = response.body["nextCursor"]
        if cursor is None:
            break

    # THEN no call made more than the bounded number of queries, and the one Created
    # payment was found at the end
    assert max(calls) <= max_list_queries(aws.settings.merchant_buckets)
    assert found == [oldest]


@pytest.mark.parametrize(
    ("headers", "multi_value_headers"),
    [
        (
            {"Content-Type": "application/json", "Idempotency-Key": "b"},
            {"Content-Type": ["application/json"], "Idempotency-Key": ["a", "b"]},
        ),
        (
            {"Content-Type": "application/json", "idempotency-key": "a", "Idempotency-Key": "b"},
            {
                "Content-Type": ["application/json"],
                "idempotency-key": ["a"],
                "Idempotency-Key": ["b"],
            },
        ),
    ],
    ids=["same name", "names differing in case"],
)
def test_two_different_idempotency_keys_are_refused(
    api: ApiClient,
    aws: AwsEnv,
    headers: dict[str, str],
    multi_value_headers: dict[str, list[str]],
) -> None:
    response = api.call(
        "POST",
        "/create-payment",
        body=json.dumps({"merchantId": "merchant-a"}),
        headers=headers,
        multi_value_headers=multi_value_headers,
    )

    assert response.status == 400
    assert response.body["failCode"] == "invalid_idempotency_key"
    assert aws.payment_items() == []


def test_a_refused_request_holds_no_idempotency_key(
    api: ApiClient, aws: AwsEnv, services: Any
) -> None:
    # GIVEN a request refused (another merchant's id) while DynamoDB throttles deletes
    headers = {"Content-Type": "application/json", "Idempotency-Key": "order-1"}
    with throttle(services.clients.dynamodb, "DeleteItem", times=100):
        refused = api.post("/create-payment", {"merchantId": "merchant-b"}, headers=headers)

    # WHEN the merchant fixes it and retries with the same key
    fixed = api.post("/create-payment", {"merchantId": "merchant-a"}, headers=headers)

    # THEN the retry goes through
    assert refused.status == 403
    assert fixed.status == 201
