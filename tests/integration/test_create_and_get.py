from __future__ import annotations

import json

from tests.conftest import MERCHANT_B, ApiClient, AwsEnv, make_payment_body
from tests.support import FakeClock


def test_create_stores_a_created_payment_and_returns_a_fresh_id(
    api: ApiClient, aws: AwsEnv, clock: FakeClock
) -> None:
    # WHEN
    response = api.post("/create-payment", {"merchantId": api.merchant_id})

    # THEN
    assert response.status == 201
    assert response.body["status"] == "Created"
    assert response.body["creationTimestampSeconds"] == int(clock.now())
    item = aws.raw_item(response.body["paymentId"])
    assert item["status"] == {"S": "Created"}
    assert item["merchantId"] == {"S": api.merchant_id}
    assert item["version"] == {"N": "1"}
    assert int(item["expiresAt"]["N"]) == int(clock.now()) + 600


def test_ten_creates_give_ten_distinct_ids(api: ApiClient, aws: AwsEnv) -> None:
    ids = {api.create_payment() for _ in range(10)}

    assert len(ids) == 10
    assert len(aws.payment_items()) == 10


def test_create_then_get_returns_the_same_status_and_timestamp(api: ApiClient) -> None:
    # GIVEN
    created = api.post("/create-payment", {"merchantId": api.merchant_id}).body

    # WHEN
    fetched = api.get_payment(created["paymentId"])

    # THEN
    assert fetched.status == 200
    assert fetched.body["status"] == created["status"] == "Created"
    assert fetched.body["creationTimestampSeconds"] == created["creationTimestampSeconds"]
    assert fetched.body["paymentId"] == created["paymentId"]


def test_get_of_another_merchants_payment_is_404(api: ApiClient) -> None:
    # GIVEN a payment of merchant B
    payment_id = api.as_merchant(MERCHANT_B).create_payment()

    # WHEN merchant A asks for it
    response = api.get_payment(payment_id)

    # THEN it does not exist for A
    assert response.status == 404
    assert response.body["failCode"] == "payment_not_found"


def test_get_of_an_unknown_id_is_404(api: ApiClient) -> None:
    response = api.get_payment("00000000-0000-4000-8000-000000000000")

    assert response.status == 404
    assert response.body["failCode"] == "payment_not_found"
    assert response.body["requestId"]


def test_a_merchant_id_that_is_not_the_callers_is_403(api: ApiClient, aws: AwsEnv) -> None:
    create = api.post("/create-payment", {"merchantId": MERCHANT_B})
    payment_id = api.create_payment()
    get = api.get("/get-payment", {"merchantId": MERCHANT_B, "paymentId": payment_id})

    assert create.status == 403
    assert create.body["failCode"] == "merchant_mismatch"
    assert get.status == 403
    assert len(aws.payment_items()) == 1


def test_get_without_its_query_parameters_names_them(api: ApiClient) -> None:
    response = api.get("/get-payment", {})

    assert response.status == 400
    assert response.body["failCode"] == "invalid_query"
    assert {f["field"] for f in response.body["fields"]} == {"merchantId", "paymentId"}


def test_an_unknown_route_is_a_json_404(api: ApiClient) -> None:
    response = api.call("GET", "/nowhere")

    assert response.status == 404
    assert response.body["failCode"] == "route_not_found"


def test_every_response_carries_its_request_id_as_errors_and_jobs_do(
    api: ApiClient, aws: AwsEnv
) -> None:
    created = api.call(
        "POST", "/create-payment", body='{"merchantId": "merchant-a"}', request_id="req-create"
    )
    refused = api.call("GET", "/get-payment", query={}, request_id="req-refused")
    made = api.call(
        "POST",
        "/make-payment",
        body=json.dumps(make_payment_body(created.body["paymentId"])),
        request_id="req-make",
    )

    assert created.headers["Request-Id"] == "req-create"
    assert created.headers["Content-Type"] == "application/json"
    assert refused.headers["Request-Id"] == refused.body["requestId"] == "req-refused"
    assert made.headers["Request-Id"] == "req-make"
    assert aws.queued_bodies()[0]["correlationId"] == "req-make"
