"""The payments stream read as the deployed event source reads it (core/resources.py's
PAYMENTS_STREAM_SOURCE): a record that fails every time is split out of its batch, retried
the deployed number of times, its position sent to the on-failure queue, and the shard
moves on, so the events written after it are still published."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from cli.lambda_emulation import sqs_destination
from cli.provisioning import create_queue
from core.resources import PAYMENTS_STREAM_SOURCE
from tests.conftest import MERCHANT_A, ApiClient, AwsEnv
from tests.integration.webhook_support import WebhookWorld, payments_stream, webhook_world
from tests.integration.worker_support import event_source, submit
from tests.support import FakeClock
from workers import event_publisher

POISON_ID = "pay_poison"


def poison_record_in(batch: dict[str, Any]) -> bool:
    return any(
        record["dynamodb"]["Keys"]["paymentId"]["S"] == POISON_ID for record in batch["Records"]
    )


def reports_it(world: WebhookWorld) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The real publisher: it reports the record it cannot decode as failed."""
    return lambda event, context: dict(event_publisher.handle(event, context, world.services))


def raises_on_it(world: WebhookWorld) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A publisher whose whole invocation fails whenever it is handed the record."""

    def publish(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if poison_record_in(event):
            raise RuntimeError("the function failed")
        return dict(event_publisher.handle(event, context, world.services))

    return publish


@pytest.mark.parametrize("failing", [reports_it, raises_on_it])
def test_a_record_failing_every_time_goes_to_the_on_failure_queue_and_the_shard_moves_on(
    aws: AwsEnv,
    api: ApiClient,
    services: Any,
    clock: FakeClock,
    failing: Callable[[WebhookWorld], Callable[[dict[str, Any], Any], dict[str, Any]]],
) -> None:
    # GIVEN the stream read by the emulated event source, with its on-failure queue
    world = webhook_world(aws, clock)
    failures_url = create_queue(
        aws.sqs, PAYMENTS_STREAM_SOURCE.on_failure, f"s{time.monotonic_ns()}"
    )
    handed_over: list[dict[str, Any]] = []
    publish = failing(world)

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        handed_over.append(event)
        return publish(event, context)

    stream = payments_stream(aws, invoke, on_failure=sqs_destination(aws.sqs, failures_url))
    # ... a payment, then an item no one can read as a payment, then another payment
    before = submit(api, 1250)
    aws.dynamodb.put_item(
        TableName=aws.settings.payments_table,
        Item={
            "paymentId": {"S": POISON_ID},
            "merchantId": {"S": MERCHANT_A},
            "status": {"S": "Accepted"},
        },
    )
    after = submit(api, 1250)
    event_source(aws, services).drain()

    # WHEN the event source reads the stream to its end
    stream.drain()

    # THEN the payments on either side of it have all their events
    for payment_id in (before, after):
        assert [e.type for e in world.services.events.events_of(payment_id)] == [
            "payment.processing",
            "payment.accepted",
        ]
    # ... the record was handed over alone once, then retried the deployed number of times
    # (before that, only while its batch was being split around it)
    with_it = [batch for batch in handed_over if poison_record_in(batch)]
    alone = [batch for batch in with_it if len(batch["Records"]) == 1]
    assert len(alone) == 1 + PAYMENTS_STREAM_SOURCE.retry_attempts
    splits = math.ceil(math.log2(PAYMENTS_STREAM_SOURCE.batch_size))
    assert len(with_it) <= len(alone) + 1 + splits
    # ... and the on-failure queue holds where it is, as Lambda writes it, not the record
    [failure] = aws.queued_bodies(failures_url)
    poison_sequence = alone[0]["Records"][0]["dynamodb"]["SequenceNumber"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    batch_info = failure["DDBStreamBatchInfo"]
    assert batch_info["startSequenceNumber"] == batch_info["endSequenceNumber"] == poison_sequence
    assert batch_info["batchSize"] == 1
    assert batch_info["shardId"] and batch_info["streamArn"]
    assert POISON_ID not in json.dumps(failure)
