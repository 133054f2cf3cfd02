"""Faults at every step of make-payment, the worker and the reconciler: a crash, a lost
response (the write applied, its answer lost, botocore's retry finds it done), a throttle.
Whatever the fault, a 202'd payment is charged at most once and reaches a final status."""

from __future__ import annotations

from typing import Any

import pytest

from core.bootstrap import Services
from core.resources import MAX_RECEIVE_COUNT
from tests.conftest import ApiClient, AwsEnv, make_payment_body
from tests.faults import SimulatedCrash, crash_after, lose_response, throttle
from tests.integration.worker_support import (
    dead_letters,
    event_source,
    reconcile,
    stalled,
    submit,
)
from tests.support import FakeClock


def _final_once(aws: AwsEnv, services: Services, payment_id: str, status: str = "Accepted") -> None:
    item = aws.raw_item(payment_id)
    assert item["status"] == {"S": status}
    assert "cardCiphertext" not in item
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and ledger.authorizations == 1


# make-payment


def test_a_lost_response_on_makes_update_still_queues_the_job(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN a payment, and make-payment's conditional update whose answer is lost once
    payment_id = api.create_payment()
    with lose_response(services.clients.dynamodb, "UpdateItem") as fault:
        # WHEN the merchant submits the card
        response = api.post("/make-payment", make_payment_body(payment_id))

    # THEN the update is recognized as our own: 202 and the job queued, exactly once
    assert fault.fired == 1
    assert response.status == 202, response.body
    assert [job["paymentId"] for job in aws.queued_bodies()] == [payment_id]
    event_source(aws, services).drain()
    _final_once(aws, services, payment_id)


@pytest.mark.parametrize(
    ("service", "operation"),
    # The card key pair's read (GetItem), the payment's write, the digest key's derivation
    [("dynamodb", "GetItem"), ("dynamodb", "UpdateItem"), ("kms", "GenerateMac")],
)
def test_a_throttle_before_the_write_is_a_503_that_changed_nothing(
    api: ApiClient, aws: AwsEnv, services: Services, service: str, operation: str
) -> None:
    # GIVEN a payment, and one dependency of make-payment throttling once
    payment_id = api.create_payment()
    with throttle(getattr(services.clients, service), operation):
        # WHEN the merchant submits, then retries
        first = api.post("/make-payment", make_payment_body(payment_id))
        untouched = aws.raw_item(payment_id)
    retried = api.post("/make-payment", make_payment_body(payment_id))

    # THEN a retryable 503 that wrote and queued nothing, and the retry goes through
    assert first.status == 503
    assert first.body["failCode"] == "service_unavailable"
    assert first.headers["Retry-After"] == "1"
    assert untouched["status"] == {"S": "Created"}
    assert retried.status == 202
    assert len(aws.queued_bodies()) == 1


def test_after_a_503_queue_unavailable_the_merchants_retry_queues_the_job(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN SQS refusing every send of make-payment (all its retries)
    payment_id = api.create_payment()
    with throttle(services.clients.sqs, "SendMessage", times=10):
        first = api.post("/make-payment", make_payment_body(payment_id))
    assert first.status == 503
    assert first.body["failCode"] == "queue_unavailable"
    assert aws.queue_depth() == 0

    # WHEN the merchant repeats the same request once SQS is back
    retried = api.post("/make-payment", make_payment_body(payment_id))

    # THEN the job is queued now (not only in 20 minutes by the reconciler), and once
    assert retried.status == 202
    assert [job["paymentId"] for job in aws.queued_bodies()] == [payment_id]
    assert "enqueueFailed" not in aws.raw_item(payment_id)
    assert api.post("/make-payment", make_payment_body(payment_id)).status == 202
    assert aws.queue_depth() == 1
    event_source(aws, services).drain()
    _final_once(aws, services, payment_id)


def test_a_crash_between_makes_write_and_its_enqueue_is_recovered(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN make-payment dies right after its write, before queueing the job
    payment_id = api.create_payment()
    with crash_after(services.clients.dynamodb, "UpdateItem"), pytest.raises(SimulatedCrash):
        api.post("/make-payment", make_payment_body(payment_id))
    assert aws.queue_depth() == 0

    # WHEN the reconciler runs past its threshold
    clock.advance(aws.settings.reconcile_after_seconds + 1)
    report = reconcile(services)
    event_source(aws, services).drain()

    # THEN the payment was queued by the reconciler and charged once
    assert report["requeued"] == 1
    _final_once(aws, services, payment_id)


def test_a_lost_response_on_the_enqueue_queues_twice_and_charges_once(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    payment_id = api.create_payment()
    with lose_response(services.clients.sqs, "SendMessage"):
        assert api.post("/make-payment", make_payment_body(payment_id)).status == 202

    assert aws.queue_depth() == 2
    event_source(aws, services).drain()
    _final_once(aws, services, payment_id)


def test_a_create_whose_idempotency_record_was_not_completed_makes_no_second_payment(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN create-payment with an Idempotency-Key whose record cannot be completed
    headers = {"Content-Type": "application/json", "Idempotency-Key": "order-7"}
    body = {"merchantId": api.merchant_id}
    with throttle(services.clients.dynamodb, "UpdateItem", times=10):
        first = api.post("/create-payment", body, headers=headers)

    # WHEN the merchant retries at once, and again after the key's lock ran out
    at_once = api.post("/create-payment", body, headers=headers)
    clock.advance(61)
    later = api.post("/create-payment", body, headers=headers)

    # THEN the first answer stands, and every retry finds that one payment
    assert first.status == 201
    assert at_once.status == 409
    assert later.status == 201
    assert later.body["paymentId"] == first.body["paymentId"]
    assert len(aws.payment_items()) == 1


def test_a_create_that_crashed_after_its_write_is_found_again_by_the_retry(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    headers, body = _crash_a_create_after_its_write(api, services, "order-8")

    clock.advance(61)
    retried = api.post("/create-payment", body, headers=headers)

    assert retried.status == 201
    assert [item["paymentId"]["S"] for item in aws.payment_items()] == [retried.body["paymentId"]]


# the worker


def test_a_lost_response_on_the_pending_write_still_schedules_the_recheck(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN amount 24 (the bank answers Pending first)
    payment_id = submit(api, 24)
    worker = event_source(aws, services)

    # WHEN the worker's Pending write is applied but its answer is lost
    with lose_response(services.clients.dynamodb, "PutItem") as fault:
        worker.poll_once()

    # THEN it is recognized as the worker's own write: the re-check is queued
    assert fault.fired == 1
    assert aws.raw_item(payment_id)["status"] == {"S": "Pending"}
    assert [job["paymentId"] for job in aws.queued_bodies()] == [payment_id]
    worker.drain()
    _final_once(aws, services, payment_id)


def test_a_throttled_decrypt_ends_in_the_dlq_with_its_real_reason(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN KMS throttling every Decrypt
    payment_id = submit(api, 1250)
    worker = event_source(aws, services)
    with throttle(services.clients.kms, "Decrypt", times=1000):
        # WHEN the job is delivered until SQS gives up on it
        for _ in range(MAX_RECEIVE_COUNT + 1):
            worker.poll_once()

    # THEN the DLQ says why: the throttled KMS call, not "payment is Processing"
    letters = dead_letters(aws, services).list()
    assert [(letter.payment_id, letter.last_error) for letter in letters] == [
        (payment_id, "Decrypt failed: ThrottlingException")
    ]


def test_a_worker_that_crashes_after_the_bank_answered_charges_once(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    payment_id = submit(api, 1250)
    worker = event_source(aws, services)

    # The bank counted the call and recorded its decision (two UpdateItems on its ledger),
    # then the worker died.
    with crash_after(services.clients.dynamodb, "UpdateItem", skip=1):
        assert worker.poll_once().failed == 1
    worker.drain()

    _final_once(aws, services, payment_id)


@pytest.mark.parametrize("fault", ["crash", "throttle"])
def test_a_worker_whose_outcome_write_fails_charges_once(
    api: ApiClient, aws: AwsEnv, services: Services, fault: str
) -> None:
    payment_id = submit(api, 1250)
    worker = event_source(aws, services)
    dynamodb = services.clients.dynamodb
    injected = (
        crash_after(dynamodb, "PutItem") if fault == "crash" else throttle(dynamodb, "PutItem")
    )

    with injected:
        assert worker.poll_once().failed == 1
    worker.drain()

    _final_once(aws, services, payment_id)


# the reconciler


def test_a_reconciler_crash_between_requeue_and_note_leaves_its_job_and_charges_once(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    (payment_id,) = stalled(api, aws, clock)

    with crash_after(services.clients.sqs, "SendMessageBatch"), pytest.raises(SimulatedCrash):
        reconcile(services)
    again = reconcile(services)
    event_source(aws, services).drain()

    # The job the crashed run queued is in the queue: the next run waits for it
    assert (again["requeued"], again["waiting"]) == (0, 1)
    _final_once(aws, services, payment_id)


def test_a_lost_response_on_the_reconcilers_note_counts_one_attempt(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    (payment_id,) = stalled(api, aws, clock)

    with lose_response(services.clients.dynamodb, "UpdateItem") as fault:
        report = reconcile(services)

    assert (fault.fired, report["requeued"]) == (1, 1)
    assert aws.raw_item(payment_id)["reconcileCount"] == {"N": "1"}


def test_a_throttled_read_of_one_payment_does_not_stop_the_others(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN three stalled payments, and the first read of the run throttled
    ids = stalled(api, aws, clock, count=3)

    with throttle(services.clients.dynamodb, "GetItem"):
        first = reconcile(services)
    event_source(aws, services).drain()
    second = reconcile(services)
    event_source(aws, services).drain()

    # THEN that one payment is counted as an error, the others are re-queued, and the next
    # run (the queue drained meanwhile) picks the one that failed
    assert (first["errors"], first["requeued"]) == (1, 2)
    assert (second["errors"], second["requeued"]) == (0, 1)
    for payment_id in ids:
        _final_once(aws, services, payment_id)


def test_a_create_retried_after_its_payment_expired_gets_a_live_payment_under_the_key(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a create that crashed after storing its payment, retried only after the
    # payment expired unused
    headers, body = _crash_a_create_after_its_write(api, services, "order-77")
    clock.advance(aws.settings.payment_ttl_seconds + 1)

    # WHEN the merchant retries with the same key, then pays
    retried = api.post("/create-payment", body, headers=headers)
    paid = api.post("/make-payment", make_payment_body(retried.body["paymentId"]))

    # THEN the one payment of the key lives again and can be paid
    assert retried.status == 201
    assert paid.status == 202
    assert len(aws.payment_items()) == 1


def _crash_a_create_after_its_write(
    api: ApiClient, services: Services, key: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """A create that dies once its payment is stored; returns its headers and body."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    body = {"merchantId": api.merchant_id}
    # The first PutItem claims the key, the second stores the payment: die after that one.
    with crash_after(services.clients.dynamodb, "PutItem", skip=1), pytest.raises(SimulatedCrash):
        api.post("/create-payment", body, headers=headers)
    return headers, body
