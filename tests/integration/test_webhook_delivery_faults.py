"""Webhook deliveries under the faults the happy path never meets, on moto with a real HTTP
receiver: a job SQS hands over twice, a run that dies between recording an attempt and
queueing what follows, a chain a replay superseded, and poison on the queue. Each ends in
one series of attempts: no second retry chain, no second dead letter, nothing lost."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.bootstrap import Services
from core.domain.webhook_retry import RETRY_FOR_SECONDS
from core.domain.webhooks import DeliveryJob, StoredEvent
from tests.conftest import MERCHANT_A, ApiClient, AwsEnv
from tests.faults import SimulatedCrash, crash_after, lose_response, throttle
from tests.integration.webhook_support import Receiver, WebhookWorld, receiving, webhook_world
from tests.integration.worker_support import event_source, submit
from tests.support import FakeClock, lambda_context
from workers import webhook_delivery

POISON = '{"eventId":"evt_x_1","endpointId":"we_x","merchantId":"m","attempt":1e400,"dueAt":0}'


@pytest.fixture
def world(aws: AwsEnv, clock: FakeClock) -> WebhookWorld:
    return webhook_world(aws, clock)


def _accepted_event_queued(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, receiver: Receiver
) -> str:
    """A payment accepted, its event's one delivery job on the queue; the payment id."""
    world.services.webhook_endpoint_service.register(
        MERCHANT_A, MERCHANT_A, receiver.url, ("payment.accepted",)
    )
    payment_id = submit(api, 1250)
    event_source(aws, services).drain()
    world.publish_events()
    return payment_id


def _accepted_event(world: WebhookWorld, payment_id: str) -> StoredEvent:
    (event,) = world.services.events.events_of(payment_id)[1:]
    return event


def _queued_jobs(world: WebhookWorld) -> list[dict[str, Any]]:
    return world.aws.queued_bodies(world.services.settings.deliveries_queue_url)


def _receive_one(world: WebhookWorld) -> dict[str, Any]:
    """The one job on the queue, taken off it as Lambda's event source would."""
    (message,) = world.aws.sqs.receive_message(
        QueueUrl=world.services.settings.deliveries_queue_url, MessageSystemAttributeNames=["All"]
    )["Messages"]
    world.aws.sqs.delete_message(
        QueueUrl=world.services.settings.deliveries_queue_url,
        ReceiptHandle=message["ReceiptHandle"],
    )
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
        ]
    }


def _run_until_the_budget_is_spent(world: WebhookWorld) -> None:
    start = world.clock.now()
    while world.clock.now() - start < RETRY_FOR_SECONDS + 7 * 3600:
        world.run(advance=1800)


def test_a_job_sqs_hands_over_twice_makes_one_series_of_attempts_and_one_dead_letter(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(500):
        payment_id = _accepted_event_queued(world, api, aws, services, receiver)
        (job,) = _queued_jobs(world)
        # SQS (at least once) hands the same message over a second time
        aws.sqs.send_message(
            QueueUrl=world.services.settings.deliveries_queue_url,
            MessageBody=json.dumps(job),
        )
        _run_until_the_budget_is_spent(world)

        (delivery,) = _accepted_event(world, payment_id).deliveries
        assert delivery.state == "failed"
        # The two copies ran side by side: both may have sent; one went on, one ended
        assert len(delivery.attempts) <= len(receiver.received) <= len(delivery.attempts) + 1
        assert 12 <= len(delivery.attempts) <= 40
        (letter,) = world.dead_letters()
        assert letter["attempt"] == len(delivery.attempts)
        assert _queued_jobs(world) == []


def test_a_copy_that_comes_after_its_attempt_was_recorded_sends_nothing(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(500):
        payment_id = _accepted_event_queued(world, api, aws, services, receiver)
        batch = _receive_one(world)
        webhook_delivery.handle(batch, lambda_context(), world.services)
        (retry,) = _queued_jobs(world)

        webhook_delivery.handle(batch, lambda_context(), world.services)  # the copy

        assert len(receiver.received) == 1
        assert _queued_jobs(world) == [retry]
        assert len(_accepted_event(world, payment_id).deliveries[0].attempts) == 1


@pytest.mark.parametrize(
    ("dies_after", "service"),
    [("UpdateItem", "dynamodb"), ("SendMessageBatch", "sqs")],
    ids=["after recording the attempt", "after queueing the retry"],
)
def test_a_run_that_dies_after_a_failed_attempt_is_finished_by_the_jobs_next_delivery(
    world: WebhookWorld,
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    dies_after: str,
    service: str,
) -> None:
    for receiver in receiving(500, 200):
        payment_id = _accepted_event_queued(world, api, aws, services, receiver)
        batch = _receive_one(world)
        client = getattr(world.services.clients, service)
        with crash_after(client, dies_after), pytest.raises(SimulatedCrash):
            webhook_delivery.handle(batch, lambda_context(), world.services)
        assert len(receiver.received) == 1

        # SQS hands the job over again once its visibility timeout is up
        webhook_delivery.handle(batch, lambda_context(), world.services)
        assert len(receiver.received) == 1  # not sent again: its attempt is recorded
        assert {job["attempt"] for job in _queued_jobs(world)} == {2}

        world.clock.advance(120)
        world.run()

        (delivery,) = _accepted_event(world, payment_id).deliveries
        assert delivery.state == "delivered"
        assert [a.status for a in delivery.attempts] == [500, 200]
        assert _queued_jobs(world) == [] and world.dead_letters() == []


def test_a_replay_supersedes_the_retries_in_flight(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(500):
        payment_id = _accepted_event_queued(world, api, aws, services, receiver)
        world.deliver_due()  # attempt 1 fails; attempt 2 of the first chain is queued
        event = _accepted_event(world, payment_id)
        replay = DeliveryJob.replayed(
            event.event_id,
            event.deliveries[0].endpoint_id,
            MERCHANT_A,
            world.clock.now() + 1,
            replay=True,
        )
        world.services.deliveries.publish([replay], world.clock.now())
        world.clock.advance(2)
        world.deliver_due()  # the replay's first attempt
        world.clock.advance(120)
        world.deliver_due()  # the replay's second; the first chain's second ends unsent

        assert (
            len(receiver.received)
            == len(_accepted_event(world, payment_id).deliveries[0].attempts)
            == 3
        )
        (next_job,) = _queued_jobs(world)
        assert (next_job["chain"], next_job["attempt"]) == (replay.chain, 3)


def test_poison_on_the_queue_goes_to_the_dlq_and_the_jobs_beside_it_run_once(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(500):
        payment_id = _accepted_event_queued(world, api, aws, services, receiver)
        aws.sqs.send_message(
            QueueUrl=world.services.settings.deliveries_queue_url, MessageBody=POISON
        )
        aws.sqs.send_message(QueueUrl=world.services.settings.deliveries_queue_url, MessageBody="{")

        world.deliver_due()

        assert len(receiver.received) == 1
        assert len(_accepted_event(world, payment_id).deliveries[0].attempts) == 1
        assert [job["attempt"] for job in _queued_jobs(world)] == [2]
        letters = aws.sqs.receive_message(
            QueueUrl=world.services.settings.deliveries_dlq_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
        )["Messages"]
        assert sorted(m["Body"] for m in letters) == sorted([POISON, "{"])
        assert all(
            m["MessageAttributes"]["reason"]["StringValue"].startswith("not a delivery job")
            for m in letters
        )


def test_a_job_the_run_has_no_time_left_to_send_goes_back_to_the_queue_unsent(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(200):
        _accepted_event_queued(world, api, aws, services, receiver)
        batch = _receive_one(world)
        (record,) = batch["Records"]

        # Less left of the run than a send may take, plus recording it
        answer = webhook_delivery.handle(
            batch, lambda_context(remaining_seconds=12), world.services
        )

        assert answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
        assert receiver.received == []
        webhook_delivery.handle(batch, lambda_context(remaining_seconds=60), world.services)
        assert len(receiver.received) == 1


@pytest.mark.parametrize("operation", ["UpdateItem", "SendMessageBatch"])
def test_a_lost_answer_to_recording_or_queueing_neither_strands_nor_forks_the_delivery(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, operation: str
) -> None:
    for receiver in receiving(500, 200):
        payment_id = _accepted_event_queued(world, api, aws, services, receiver)
        client = (
            world.services.clients.dynamodb
            if operation == "UpdateItem"
            else world.services.clients.sqs
        )
        # Applied, its answer lost, then made again by botocore's retry
        with lose_response(client, operation) as fault:
            world.deliver_due()
        assert fault.fired == 1

        assert [job["attempt"] for job in _queued_jobs(world)] == (
            [2] if operation == "UpdateItem" else [2, 2]
        )
        world.clock.advance(120)
        world.run()

        (delivery,) = _accepted_event(world, payment_id).deliveries
        assert delivery.state == "delivered"
        assert [a.status for a in delivery.attempts] == [500, 200]
        assert _queued_jobs(world) == []


def test_poison_the_dlq_refuses_goes_back_alone_and_the_job_beside_it_is_delivered(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(200):
        _accepted_event_queued(world, api, aws, services, receiver)
        batch = _receive_one(world)
        batch["Records"].append(dict(batch["Records"][0], messageId="poison-1", body=POISON))

        with throttle(world.services.clients.sqs, "SendMessage") as fault:
            answer = webhook_delivery.handle(batch, lambda_context(), world.services)

        assert fault.fired >= 1
        assert answer == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
        assert len(receiver.received) == 1


def test_a_run_that_dies_after_dead_lettering_makes_a_second_letter_the_replay_drops(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(500):
        _accepted_event_queued(world, api, aws, services, receiver)
        batch = _receive_one(world)
        (record,) = batch["Records"]
        last = json.loads(record["body"]) | {
            "attempt": 14,
            "firstAttemptAt": world.clock.now() - RETRY_FOR_SECONDS,  # the budget spent
        }
        record["body"] = json.dumps(last)
        with crash_after(world.services.clients.sqs, "SendMessage"), pytest.raises(SimulatedCrash):
            webhook_delivery.handle(batch, lambda_context(), world.services)
        webhook_delivery.handle(batch, lambda_context(), world.services)  # SQS, again
        assert len(receiver.received) == 1 and len(world.dead_letters()) == 2

        moved = world.services.deliveries.replay_dead_letters(
            world.clock.now(), dry_run=False, limit=10
        )

        assert (len(moved.jobs), moved.duplicates) == (1, 1)
        assert world.dead_letters() == []
        assert [job["attempt"] for job in _queued_jobs(world)] == [1]
