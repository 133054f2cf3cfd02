"""The local stack's worker process: Lambda's SQS event sources for the payment worker and
the webhook deliveries, its DynamoDB stream source for the event publisher, and the
reconciler's schedule. Its configuration comes from the environment, as in Lambda.
Started by `paygate local`; stops on SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Any, Protocol

from cli.lambda_emulation import (
    DynamoStreamEventSource,
    PollReport,
    SqsEventSource,
    lambda_context,
    sqs_destination,
)
from cli.local_logging import use_terminal_logs
from core.bootstrap import Services, services
from core.observability import logger
from core.resources import (
    DEFAULT_PREFIX,
    DELIVERIES_SOURCE,
    DELIVERY_FUNCTION_TIMEOUT_SECONDS,
    PAYMENTS_STREAM_SOURCE,
    SLOW_DELIVERIES_SOURCE,
    WORKER_TIMEOUT_SECONDS,
)
from workers import event_publisher, payment_worker, reconciler, webhook_delivery

# A failed job is offered again after this long (Lambda would wait for the visibility
# timeout); after maxReceiveCount offers SQS moves it to the DLQ.
RETRY_AFTER_SECONDS = 2
IDLE_WAIT_SECONDS = 0.2
# A laptop's share of an event source's instances (threads of this process).
LOCAL_MAX_INSTANCES = 4


def main() -> None:
    use_terminal_logs()
    deps = services()
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    # Before the first job, so the stack's first payment is already encrypted to a key pair.
    payment_worker.keep_card_keys_ahead(deps.card_key_upkeep)

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(payment_worker.handle(event, context, deps))

    source = SqsEventSource(
        deps.clients.sqs,
        deps.settings.jobs_queue_url,
        invoke,
        timeout_seconds=WORKER_TIMEOUT_SECONDS,
        retry_after_seconds=RETRY_AFTER_SECONDS,
        region=deps.settings.aws_region,
    )
    stream_arn = deps.clients.dynamodb.describe_table(TableName=deps.settings.payments_table)[
        "Table"
    ]["LatestStreamArn"]
    events = DynamoStreamEventSource(
        deps.clients.streams,
        stream_arn,
        lambda event, context: dict(event_publisher.handle(event, context, deps)),
        on_failure=sqs_destination(deps.clients.sqs, _stream_failures_url(deps)),
    )
    # The two lanes of webhook deliveries, each with instances of its own as in Lambda, so
    # slow endpoints hold up only the slow lane's.
    lanes = tuple(
        SqsEventSource(
            deps.clients.sqs,
            url,
            lambda event, context: dict(webhook_delivery.handle(event, context, deps)),
            function_name="paygate-webhook-delivery",
            timeout_seconds=DELIVERY_FUNCTION_TIMEOUT_SECONDS,
            batch_size=spec.batch_size,
            retry_after_seconds=RETRY_AFTER_SECONDS,
            region=deps.settings.aws_region,
            max_concurrency=min(spec.max_concurrency, LOCAL_MAX_INSTANCES),
        )
        for url, spec in (
            (deps.settings.deliveries_queue_url, DELIVERIES_SOURCE),
            (deps.settings.slow_deliveries_queue_url, SLOW_DELIVERIES_SOURCE),
        )
    )
    # Webhooks in a loop of their own: a receiver taking its 10 s never holds up payments.
    webhooks = threading.Thread(
        target=_poll, args=(stop, (events, *lanes), None, deps), daemon=True
    )
    webhooks.start()
    _poll(stop, (source,), deps.settings.reconcile_every_seconds, deps)
    webhooks.join(timeout=DELIVERY_FUNCTION_TIMEOUT_SECONDS)


def _stream_failures_url(deps: Services) -> str:
    """The on-failure queue of the payments stream (provisioned with the local stack's)."""
    name = PAYMENTS_STREAM_SOURCE.on_failure.physical_name(DEFAULT_PREFIX)
    return deps.clients.sqs.get_queue_url(QueueName=name)["QueueUrl"]


class _Source(Protocol):
    def poll_once(self) -> PollReport: ...


def _poll(
    stop: threading.Event,
    sources: tuple[_Source, ...],
    reconcile_every: int | None,
    deps: Services,
) -> None:
    """Poll `sources` (and run the reconciler every `reconcile_every` seconds) until told
    to stop or the local stack is gone."""
    next_reconcile = time.monotonic() + (reconcile_every or 0)
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            logger.error("the local stack is gone; the worker stops too")
            stop.set()
            return
        try:
            if sum(source.poll_once().received for source in sources) == 0:
                stop.wait(IDLE_WAIT_SECONDS)
            if reconcile_every and time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + reconcile_every
                reconciler.handle({}, lambda_context("paygate-reconciler"), deps)
        except Exception as error:
            # Keep polling, as Lambda's event source mapping would.
            logger.error("worker loop error", extra={"errorType": type(error).__name__})
            stop.wait(1.0)


if __name__ == "__main__":
    main()
