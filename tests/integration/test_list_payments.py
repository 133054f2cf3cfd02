from __future__ import annotations

import json
from typing import Any

import pytest

from core.adapters.partition_keys import bucket_key
from core.bootstrap import Services
from core.resources import BY_MERCHANT_INDEX
from tests.conftest import MERCHANT_B, ApiClient, AwsEnv, make_payment_body
from tests.integration.worker_support import event_source
from tests.support import FakeClock, alter_cursor


def _list(api: ApiClient, **params: Any) -> Any:
    query = {"merchantId": api.merchant_id or ""} | {k: str(v) for k, v in params.items()}
    return api.get("/list-payments", query)


def _create_many(api: ApiClient, clock: FakeClock, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(api.create_payment())
        clock.advance(1)
    return ids


def test_45_payments_come_in_3_pages_newest_first_without_gaps_or_repeats(
    api: ApiClient, clock: FakeClock
) -> None:
    # GIVEN 45 payments, one a second, and some of another merchant
    created = _create_many(api, clock, 45)
    _create_many(api.as_merchant(MERCHANT_B), clock, 3)

    # WHEN the merchant pages through with limit 20
    pages, cursor = [], None
    while True:
        response = _list(api, limit=20, **({"cursor": cursor} if cursor else {}))
        assert response.status == 200, response.body
        pages.append(response.body["payments"])
        cursor = response.body["nextCursor"]
        if cursor is None:
            break

    # THEN
    assert [len(page) for page in pages] == [20, 20, 5]
    listed = [payment["paymentId"] for page in pages for payment in page]
    assert listed == list(reversed(created))
    timestamps = [payment["creationTimestampSeconds"] for page in pages for payment in page]
    assert timestamps == sorted(timestamps, reverse=True)


def test_the_window_and_status_filters(api: ApiClient, clock: FakeClock) -> None:
    # GIVEN ten payments a second apart, the first three of them submitted
    start = int(clock.now())
    created = _create_many(api, clock, 10)
    for payment_id in created[:3]:
        assert api.post("/make-payment", make_payment_body(payment_id)).status == 202

    # WHEN
    window = _list(api, **{"from": start + 2, "to": start + 5})
    processing = _list(api, status="Processing")
    created_only = _list(api, status="Created", limit=100)

    # THEN
    assert [p["paymentId"] for p in window.body["payments"]] == list(reversed(created[2:6]))
    assert [p["paymentId"] for p in processing.body["payments"]] == list(reversed(created[:3]))
    assert processing.body["payments"][0]["cardNumber"] == "************1543"
    assert "cvv" not in json.dumps(processing.body)
    assert len(created_only.body["payments"]) == 7


def test_expired_created_payments_are_not_listed(api: ApiClient, clock: FakeClock) -> None:
    old = api.create_payment()
    clock.advance(600)
    fresh = api.create_payment()

    listed = [p["paymentId"] for p in _list(api).body["payments"]]

    assert listed == [fresh]
    assert old not in listed


def test_another_merchants_payments_and_cursors_are_never_visible(
    api: ApiClient, clock: FakeClock
) -> None:
    # GIVEN merchant B with more payments than a page, and B's cursor
    merchant_b = api.as_merchant(MERCHANT_B)
    b_ids = _create_many(merchant_b, clock, 3)
    b_cursor = _list(merchant_b, limit=1).body["nextCursor"]
    assert b_cursor
    a_ids = _create_many(api, clock, 2)

    # WHEN A lists, asks for B's listing, replays B's cursor, or forges one for B
    own = _list(api)
    as_b = api.get("/list-payments", {"merchantId": MERCHANT_B})
    with_b_cursor = _list(api, cursor=b_cursor)

    def as_a(document: dict[str, Any], position: dict[str, Any]) -> None:
        document["m"] = position["merchantId"] = api.merchant_id

    with_forged = _list(api, cursor=alter_cursor(b_cursor, as_a))

    # THEN A only ever sees its own
    assert {p["paymentId"] for p in own.body["payments"]} == set(a_ids)
    assert as_b.status == 403
    assert with_b_cursor.status == 400
    assert with_b_cursor.body["fields"][0]["field"] == "cursor"
    assert with_forged.status == 400
    assert not {p["paymentId"] for p in own.body["payments"]} & set(b_ids)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJ2IjoxfQ"}, "cursor"),
        ({"from": "yesterday"}, "from"),
        ({"from": 10, "to": 5}, "to"),
        ({"status": "Lost"}, "status"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    api: ApiClient, params: dict[str, Any], field: str
) -> None:
    response = _list(api, **params)

    assert response.status == 400, response.body
    assert response.body["failCode"] == "invalid_query"
    assert field in {issue["field"] for issue in response.body["fields"]}


def test_a_listed_payment_reads_as_get_payment_shows_it_and_the_index_holds_no_card(
    api: ApiClient, aws: AwsEnv, clock: FakeClock, services: Services
) -> None:
    # GIVEN a payment in each kind of state: Created, Processing (card held), Declined
    created = api.create_payment()
    clock.advance(1)
    declined = api.create_payment()
    assert api.post("/make-payment", make_payment_body(declined, amount=1)).status == 202
    event_source(aws, services).poll_once()
    clock.advance(1)
    processing = api.create_payment()
    assert api.post("/make-payment", make_payment_body(processing)).status == 202
    assert "cardCiphertext" in aws.raw_item(processing)

    # WHEN they are listed
    listed = {p["paymentId"]: p for p in _list(api).body["payments"]}

    # THEN each is what get-payment answers, failCode included
    for payment_id in (created, processing, declined):
        shown = api.get_payment(payment_id).body
        # get-payment alone says how processing goes: attempts, and the last error
        assert listed[payment_id] == {
            k: v for k, v in shown.items() if k not in ("attempts", "lastError")
        }
        assert shown["attempts"] == (0 if shown["status"] in ("Created", "Processing") else 1)
    assert listed[declined]["failCode"] == "card_declined"
    # AND the index the listing reads never holds card data
    indexed = [
        item
        for bucket in range(aws.settings.merchant_buckets)
        for item in aws.dynamodb.query(
            TableName=aws.settings.payments_table,
            IndexName=BY_MERCHANT_INDEX.name,
            KeyConditionExpression="merchantBucket = :b",
            ExpressionAttributeValues={":b": {"S": bucket_key(api.merchant_id or "", bucket)}},
        )["Items"]
    ]
    assert len(indexed) == 3
    assert all("cardCiphertext" not in item and "writeToken" not in item for item in indexed)
