"""A Created payment unused for 10 minutes answers 404 everywhere, even while DynamoDB's
TTL (which lags, and which moto never runs) has not deleted it yet."""

from __future__ import annotations

from tests.conftest import ApiClient, AwsEnv, make_payment_body
from tests.support import FakeClock

TTL_SECONDS = 600


def test_an_expired_payment_is_404_to_get_and_make(
    api: ApiClient, aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN a payment left unused past its expiry, still present in the table
    payment_id = api.create_payment()
    clock.advance(TTL_SECONDS)
    assert aws.raw_item(payment_id)["status"] == {"S": "Created"}

    # WHEN
    get = api.get_payment(payment_id)
    make = api.post("/make-payment", make_payment_body(payment_id))

    # THEN
    assert (get.status, make.status) == (404, 404)
    assert make.body["failCode"] == "payment_not_found"
    assert aws.raw_item(payment_id)["status"] == {"S": "Created"}
    assert aws.queue_depth() == 0


def test_a_payment_is_usable_until_the_last_second(api: ApiClient, clock: FakeClock) -> None:
    payment_id = api.create_payment()
    clock.advance(TTL_SECONDS - 1)

    assert api.get_payment(payment_id).status == 200
    assert api.post("/make-payment", make_payment_body(payment_id)).status == 202


def test_a_paid_payment_never_expires(api: ApiClient, clock: FakeClock) -> None:
    payment_id = api.create_payment()
    api.post("/make-payment", make_payment_body(payment_id))

    clock.advance(30 * 24 * 3600)

    response = api.get_payment(payment_id)
    assert response.status == 200
    assert response.body["status"] == "Processing"
