from __future__ import annotations

from core.adapters.partition_keys import in_flight_shard
from core.bootstrap import Services
from tests.conftest import MERCHANT_B, ApiClient, AwsEnv, make_payment_body
from tests.support import SENTINEL_LAST_FOUR, FakeClock, card_data_leaks


def test_make_stores_the_payment_without_plain_card_data(api: ApiClient, aws: AwsEnv) -> None:
    # GIVEN
    payment_id = api.create_payment()

    # WHEN
    response = api.post("/make-payment", make_payment_body(payment_id))

    # THEN
    assert response.status == 202
    assert response.body == {"paymentId": payment_id, "status": "Processing"}
    item = aws.raw_item(payment_id)
    assert item["status"] == {"S": "Processing"}
    assert item["amount"] == {"N": "1250"}
    assert item["currency"] == {"S": "EUR"}
    assert item["expiryYear"] == {"N": "2031"}
    assert item["expiryMonth"] == {"N": "7"}
    assert item["cardName"] == {"S": "Ada Lovelace"}
    assert item["billingAddress"] == {"S": "12 Analytical Row, London"}
    assert item["cardLastFour"] == {"S": SENTINEL_LAST_FOUR}
    assert "expiresAt" not in item, "TTL must never delete a paid payment"
    assert "cardCiphertext" in item
    assert card_data_leaks(item) == []


def test_make_then_get_shows_the_masked_card_and_the_stored_fields(api: ApiClient) -> None:
    payment_id = api.create_payment()
    api.post("/make-payment", make_payment_body(payment_id))

    response = api.get_payment(payment_id)

    assert response.status == 200
    assert response.body["cardNumber"] == "************1543"
    assert response.body["status"] == "Processing"
    assert response.body["amount"] == 1250
    assert response.body["currency"] == "EUR"
    assert response.body["expiryYear"] == 2031
    assert response.body["expiryMonth"] == 7
    assert response.body["cardName"] == "Ada Lovelace"
    assert response.body["billingAddress"] == "12 Analytical Row, London"
    assert "cvv" not in response.body
    assert "failCode" not in response.body


def test_make_repeated_100_times_changes_nothing_and_queues_once(
    api: ApiClient, aws: AwsEnv
) -> None:
    # GIVEN
    payment_id = api.create_payment()
    body = make_payment_body(payment_id)

    # WHEN
    answers = [api.post("/make-payment", body) for _ in range(100)]

    # THEN
    assert {(a.status, a.body["status"]) for a in answers} == {(202, "Processing")}
    assert aws.raw_item(payment_id)["version"] == {"N": "2"}
    queued = aws.queued_bodies()
    assert [job["paymentId"] for job in queued] == [payment_id]
    assert set(queued[0]) == {"paymentId", "correlationId"}


def test_the_same_payment_with_a_different_body_is_409(api: ApiClient, aws: AwsEnv) -> None:
    payment_id = api.create_payment()
    api.post("/make-payment", make_payment_body(payment_id))

    response = api.post("/make-payment", make_payment_body(payment_id, amount=999))

    assert response.status == 409
    assert response.body["failCode"] == "payment_conflict"
    assert aws.raw_item(payment_id)["amount"] == {"N": "1250"}
    assert len(aws.queued_bodies()) == 1


def test_make_for_an_unknown_payment_is_404_and_writes_nothing(api: ApiClient, aws: AwsEnv) -> None:
    response = api.post("/make-payment", make_payment_body("00000000-0000-4000-8000-000000000000"))

    assert response.status == 404
    assert aws.payment_items() == []
    assert aws.queue_depth() == 0


def test_make_for_another_merchants_payment_is_404(api: ApiClient, aws: AwsEnv) -> None:
    # GIVEN a payment of merchant B
    merchant_b = api.as_merchant(MERCHANT_B)
    payment_id = merchant_b.create_payment()

    # WHEN merchant A submits a card for it, as itself
    response = api.post("/make-payment", make_payment_body(payment_id))

    # THEN B's payment is untouched and A learns nothing of it
    assert response.status == 404
    assert response.body["failCode"] == "payment_not_found"
    assert aws.raw_item(payment_id)["status"] == {"S": "Created"}
    assert aws.queue_depth() == 0


def test_make_naming_another_merchant_in_the_body_is_403(api: ApiClient, aws: AwsEnv) -> None:
    payment_id = api.as_merchant(MERCHANT_B).create_payment()

    response = api.post("/make-payment", make_payment_body(payment_id, merchant_id=MERCHANT_B))

    assert response.status == 403
    assert aws.raw_item(payment_id)["status"] == {"S": "Created"}
    assert aws.queue_depth() == 0


def test_when_the_queue_is_down_the_answer_is_503_and_the_payment_waits_for_the_reconciler(
    aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN a gateway whose jobs queue does not exist (SQS answers every send with an error)
    missing_queue = aws.settings.jobs_queue_url + "-gone"
    settings = aws.settings.replace(jobs_queue_url=missing_queue)
    api = ApiClient(Services(settings, aws.clients(settings), clock), "merchant-a")
    payment_id = api.create_payment()

    # WHEN
    response = api.post("/make-payment", make_payment_body(payment_id))

    # THEN the merchant is told to come back, and the payment is in flight for the reconciler
    assert response.status == 503
    assert response.body["failCode"] == "queue_unavailable"
    item = aws.raw_item(payment_id)
    assert item["status"] == {"S": "Processing"}
    assert item["inFlight"] == {
        "S": in_flight_shard(payment_id, api.services.settings.in_flight_shards)
    }
    in_flight = api.services.payments.in_flight_pages()
    assert [p.payment_id for page in in_flight for p in page] == [payment_id]
