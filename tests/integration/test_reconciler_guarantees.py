"""Every 202'd payment reaches a final status or the DLQ with an alarm, whatever else is
stuck, and none keeps card data past its resolution bound."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from core.adapters.sqs_jobs import SEND_ATTEMPTS, SQS_BATCH
from core.bootstrap import Services
from core.domain.cards import CardSecret
from core.domain.jobs import PaymentJob
from core.domain.payment import Payment, PaymentStatus
from core.domain.ports import AuthorizationRequest
from core.domain.reconcile_policy import ReconcilePolicy
from core.resources import MAX_RECEIVE_COUNT
from tests.conftest import ApiClient, AwsEnv
from tests.faults import refuse_batch_entry, throttle
from tests.integration.worker_support import (
    emitted_metrics,
    event_source,
    reconcile,
    stalled,
    submit,
)
from tests.support import SENTINEL_CVV, SENTINEL_PAN, FakeClock

STUCK = 205


def _stuck_copies(services: Services, template: Payment, count: int, attempts: int) -> None:
    """Payments like `template`, in flight and already re-queued `attempts` times."""
    for n in range(count):
        services.payments.add(
            replace(
                template,
                payment_id=f"00000000-0000-4000-8000-{n:012d}",
                reconcile_count=attempts,
                updated_at=template.updated_at - 1,
            )
        )


def test_stuck_payments_never_hide_a_newer_stalled_one(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN 205 payments stuck in flight (re-queued to the limit), older than a healthy one
    # whose job was lost
    healthy = submit(api, 1250)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    template = services.payments.get(healthy)
    assert template is not None
    _stuck_copies(services, template, STUCK, aws.settings.reconcile_max_attempts)

    # WHEN the reconciler runs once past the threshold
    clock.advance(aws.settings.reconcile_after_seconds + 1)
    report = reconcile(services)

    # THEN it paged through all of them: the healthy one is re-queued, the rest reported
    assert (report["stalled"], report["requeued"], report["stuck"]) == (STUCK + 1, 1, STUCK)
    assert report["complete"] is True
    assert [job["paymentId"] for job in aws.queued_bodies()] == [healthy]


def test_a_run_out_of_time_stops_cleanly_and_the_next_goes_on(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    ids = stalled(api, aws, clock, count=3)

    starved = reconcile(services, seconds=1.0)
    full = reconcile(services)

    assert (starved["requeued"], starved["complete"]) == (0, False)
    assert (full["requeued"], full["complete"]) == (3, True)
    assert sorted(job["paymentId"] for job in aws.queued_bodies()) == sorted(ids)


def test_an_unreadable_item_is_isolated_and_answers_404_not_500(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a healthy stalled payment, and a damaged in-flight item of the same merchant
    # (its status is gone; it still sits in the in-flight index)
    healthy = submit(api, 1250)
    damaged = submit(api, 1250)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    aws.dynamodb.update_item(
        TableName=aws.settings.payments_table,
        Key={"paymentId": {"S": damaged}},
        UpdateExpression="REMOVE #status",
        ExpressionAttributeNames={"#status": "status"},
    )
    clock.advance(aws.settings.reconcile_after_seconds + 1)

    # WHEN the reconciler runs, and the merchant reads and lists
    report = reconcile(services)
    read = api.get_payment(damaged)
    listing = api.get("/list-payments", {"merchantId": "merchant-a"})
    history = api.get("/payment-events", {"merchantId": "merchant-a", "paymentId": damaged})

    # THEN the damaged one is an error of its own; the healthy one moves on; no 5xx
    assert (report["errors"], report["requeued"]) == (1, 1)
    assert [job["paymentId"] for job in aws.queued_bodies()] == [healthy]
    assert read.status == history.status == 404
    assert history.body["failCode"] == read.body["failCode"]
    assert listing.status == 200
    assert [p["paymentId"] for p in listing.body["payments"]] == [healthy]


def test_a_payment_with_damaged_details_is_still_shown_with_its_status(
    api: ApiClient, aws: AwsEnv
) -> None:
    payment_id = submit(api, 1250)
    aws.dynamodb.update_item(
        TableName=aws.settings.payments_table,
        Key={"paymentId": {"S": payment_id}},
        UpdateExpression="REMOVE cardName",
    )

    read = api.get_payment(payment_id)

    assert read.status == 200
    assert read.body["status"] == "Processing"
    assert "cardName" not in read.body


@pytest.mark.parametrize(("amount", "status"), [(504, "Failed"), (1250, "Accepted")])
def test_at_its_bound_a_payment_is_settled_with_the_bank(
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    clock: FakeClock,
    amount: int,
    status: str,
) -> None:
    # GIVEN a payment whose jobs went to the DLQ and expired there (14 days). For 1250 the
    # bank authorized it, but every write of the outcome was throttled.
    payment_id = submit(api, amount)
    worker = event_source(aws, services)
    with throttle(services.clients.dynamodb, "PutItem", times=1000):
        for _ in range(MAX_RECEIVE_COUNT + 1):
            worker.poll_once()
    assert aws.queue_depth() == 0
    aws.sqs.purge_queue(QueueUrl=aws.dlq_url)
    assert "cardCiphertext" in aws.raw_item(payment_id)

    # WHEN the reconciler runs past the resolution bound
    clock.advance(aws.settings.resolve_after_seconds + 1)
    report = reconcile(services)

    # THEN it asked the bank: the recorded outcome, or Failed once the bank voided it;
    # either way final, card erased, charged at most once
    assert report["resolved"] == 1
    view = api.get_payment(payment_id).body
    assert view["status"] == status
    item = aws.raw_item(payment_id)
    assert "cardCiphertext" not in item and "inFlight" not in item
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and ledger.authorizations == (1 if status == "Accepted" else 0)
    if status == "Failed":
        assert view["failCode"] == "processing_failed"


def test_a_voided_payment_can_never_be_authorized_afterwards(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a payment settled Failed at its bound while a copy of its job was still around
    payment_id = submit(api, 1250)
    clock.advance(aws.settings.resolve_after_seconds + 1)
    reconcile(services)

    # WHEN the late job reaches the worker, and anything asks the bank to authorize it
    event_source(aws, services).drain()
    late = services.bank.authorize(
        AuthorizationRequest(
            payment_id, "merchant-a", 1250, "EUR", 2031, 7, CardSecret(SENTINEL_PAN, SENTINEL_CVV)
        ),
        idempotency_key=payment_id,
    )

    # THEN it stays Failed and the bank never authorizes it
    assert aws.raw_item(payment_id)["status"] == {"S": "Failed"}
    assert late.status is PaymentStatus.FAILED
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and ledger.authorizations == 0


@pytest.mark.parametrize("fault", ["the bank's outage", "the bank's own storage throttled"])
def test_at_the_bound_with_the_bank_down_the_card_is_erased_anyway(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock, fault: str
) -> None:
    payment_id = submit(api, 1250)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    clock.advance(aws.settings.resolve_after_seconds + 1)

    if fault == "the bank's outage":
        services.bank_controls.set_outage(True)
        down = reconcile(services)
        services.bank_controls.set_outage(False)
    else:
        # The simulated bank reads its switches with BatchGetItem: nothing else does.
        with throttle(services.clients.dynamodb, "BatchGetItem", times=100):
            down = reconcile(services)
    erased = aws.raw_item(payment_id)
    up = reconcile(services)

    assert (down["errors"], down["resolved"]) == (1, 0)
    assert erased["status"] == {"S": "Processing"}
    assert "cardCiphertext" not in erased
    assert up["resolved"] == 1
    assert aws.raw_item(payment_id)["status"] == {"S": "Failed"}


def test_a_reconciler_error_is_counted_for_its_alarm(
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stalled(api, aws, clock)

    with throttle(services.clients.sqs, "SendMessageBatch", times=10):
        report = reconcile(services)

    assert report["errors"] == 1
    assert emitted_metrics(capsys.readouterr().out)["ReconcilerErrors"] == 1


def _take_queued(aws: AwsEnv) -> list[str]:
    queued = sorted(body["paymentId"] for body in aws.queued_bodies())
    aws.discard_jobs()
    return queued


def test_stalled_payments_are_queued_again_in_batches_and_a_refused_one_next_run(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN 25 stalled payments, and SQS refusing one entry of a batch on every attempt
    payment_ids = stalled(api, aws, clock, count=25)
    batches: list[int] = []
    services.clients.sqs.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch",
        lambda params, **_: batches.append(len(params["Entries"])),
    )

    with refuse_batch_entry(services.clients.sqs, payment_ids[7], times=SEND_ATTEMPTS):
        first = reconcile(services)

    # THEN the others are queued in batches of up to 10, the refused one is counted as an
    # error and left due, and the next run queues it
    assert (first["stalled"], first["requeued"], first["errors"]) == (25, 24, 1)
    assert max(batches) == SQS_BATCH and len(batches) >= 3
    assert _take_queued(aws) == sorted(set(payment_ids) - {payment_ids[7]})
    second = reconcile(services)
    assert (second["stalled"], second["requeued"], second["errors"]) == (1, 1, 0)
    assert _take_queued(aws) == [payment_ids[7]]


def test_an_entry_refused_once_is_sent_again_within_the_run(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    payment_ids = stalled(api, aws, clock, count=3)

    with refuse_batch_entry(services.clients.sqs, payment_ids[1], times=1) as refusals:
        report = reconcile(services)

    assert refusals.fired == 1
    assert (report["requeued"], report["errors"]) == (3, 0)
    assert _take_queued(aws) == sorted(payment_ids)


def test_a_payment_looked_at_just_before_its_bound_is_still_settled_before_it(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a payment whose jobs keep getting lost, re-queued by the reconciler one minute
    # before it is due to be settled
    (payment_id,) = stalled(api, aws, clock)
    policy = ReconcilePolicy.of(aws.settings)
    created = int(aws.raw_item(payment_id)["createdAt"]["N"])
    clock.advance(policy.settle_from(created) - 60 - int(clock.now()))
    assert reconcile(services)["requeued"] == 1
    aws.discard_jobs()

    # WHEN the reconciler runs on its schedule up to the bound
    bound = created + aws.settings.resolve_after_seconds
    settled_at = None
    while int(clock.now()) < bound and settled_at is None:
        clock.advance(aws.settings.reconcile_every_seconds)
        if reconcile(services)["resolved"]:
            settled_at = int(clock.now())

    # THEN it was settled, card erased, no later than its bound
    assert settled_at is not None and settled_at <= bound
    item = aws.raw_item(payment_id)
    assert item["status"] == {"S": "Failed"} and "cardCiphertext" not in item


def test_a_lost_job_behind_a_backlog_is_queued_again_once_the_backlog_would_have_drained(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a payment whose job was lost (make-payment died before the enqueue, or it was
    # deleted), with 300 other jobs waiting in the queue (a bank outage's backlog)
    (payment_id,) = stalled(api, aws, clock)
    backlog = 300
    for start in range(0, backlog, SQS_BATCH):
        aws.sqs.send_message_batch(
            QueueUrl=aws.settings.jobs_queue_url,
            Entries=[
                {"Id": str(n), "MessageBody": PaymentJob(str(uuid.uuid4()), "load").to_body()}
                for n in range(start, start + SQS_BATCH)
            ],
        )

    # WHEN the reconciler runs past the threshold, and again once the backlog would drain
    waiting = reconcile(services)
    clock.advance(ReconcilePolicy.of(aws.settings).backlog_wait_seconds(backlog))
    lost = reconcile(services)

    # THEN it first waits (the job could be in the backlog), then queues it again
    assert (waiting["waiting"], waiting["requeued"]) == (1, 0)
    assert (lost["waiting"], lost["requeued"]) == (0, 1)
    assert [job["paymentId"] for job in aws.queued_bodies()].count(payment_id) == 1
