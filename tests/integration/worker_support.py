"""Driving the worker as Lambda's SQS event source would, for the integration tests."""

from __future__ import annotations

import json
from typing import Any

from cli.lambda_emulation import SqsEventSource
from core.bootstrap import Services
from core.domain.dead_letters import DeadLetters
from tests.conftest import ApiClient, AwsEnv, make_payment_body
from tests.faults import SimulatedCrash
from tests.support import FakeClock, lambda_context
from workers import payment_worker, reconciler


class WorkerCrashedError(RuntimeError):
    """The invocation died: Lambda returns its whole batch to the queue."""


def event_source(aws: AwsEnv, services: Services) -> SqsEventSource:
    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return dict(payment_worker.handle(event, context, services))
        except SimulatedCrash as crash:
            raise WorkerCrashedError(str(crash)) from None

    return SqsEventSource(aws.sqs, aws.settings.jobs_queue_url, invoke)


def submit(api: ApiClient, amount: int) -> str:
    payment_id = api.create_payment()
    response = api.post("/make-payment", make_payment_body(payment_id, amount=amount))
    assert response.status == 202, response.body
    return payment_id


def emitted_metrics(output: str) -> dict[str, float]:
    """Sum every EMF metric printed by the handlers."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            name = definition["Name"]
            totals[name] = totals.get(name, 0) + sum(document[name])
    return totals


def stalled(api: ApiClient, aws: AwsEnv, clock: FakeClock, count: int = 1) -> list[str]:
    """Payments submitted whose jobs were lost, now past the reconciler's threshold."""
    payment_ids = [submit(api, 1250) for _ in range(count)]
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    clock.advance(aws.settings.reconcile_after_seconds + 1)
    return payment_ids


def reconcile(services: Services, seconds: float = 60.0) -> dict[str, Any]:
    """One scheduled run of the reconciler with `seconds` of Lambda time."""
    return dict(reconciler.handle({}, lambda_context(seconds), services))


def dead_letters(aws: AwsEnv, services: Services) -> DeadLetters:
    """The DLQ tools over the services' own clients (so faults injected there apply)."""
    return services.dead_letter_queue(aws.dlq_url)
