"""What on-call reads: every worker line names its payment and correlation id (one key
name everywhere), a retry says why, the last delivery before the DLQ says so, and the
reconciler speaks only when it found work."""

from __future__ import annotations

import json
from typing import Any

from core.bootstrap import Services
from core.observability import CORRELATION_KEY
from core.resources import MAX_RECEIVE_COUNT
from tests.conftest import ApiClient, AwsEnv
from tests.integration.worker_support import event_source, reconcile, submit
from tests.support import FakeClock

RUN_LINE = "reconciler run"


def _lines(collector: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in collector.lines if line.startswith("{")]


def test_worker_lines_name_the_payment_and_the_request_and_say_why(
    api: ApiClient, aws: AwsEnv, services: Services, no_card_data_in_output: Any
) -> None:
    # GIVEN a payment the bank fails on twice (503), and one it never answers (504)
    flaky = submit(api, 503)
    never = submit(api, 504)
    worker = event_source(aws, services)

    # WHEN the worker goes at them until SQS gives up on the second
    for _ in range(MAX_RECEIVE_COUNT + 1):
        worker.poll_once()

    # THEN every worker line carries the payment and the correlation id (the key the API
    # lines use), retries give the reason, and the last delivery says it goes to the DLQ
    lines = [
        line
        for line in _lines(no_card_data_in_output)
        if line.get("function_name") == "paygate-worker"
    ]
    assert lines
    for line in lines:
        assert line.get("paymentId") in (flaky, never), line
        assert line.get(CORRELATION_KEY), line
        assert "correlationId" not in line
    retries = [line for line in lines if line["message"] == "bank call failed; retrying"]
    assert retries and all(line["reason"] for line in retries)
    last = [line for line in lines if "last delivery" in line["message"]]
    assert last
    assert all(line["paymentId"] == never for line in last)
    assert all(line["receives"] >= MAX_RECEIVE_COUNT for line in last)
    assert "did not answer" in last[0]["reason"]


def test_api_lines_use_the_same_correlation_key(
    api: ApiClient, no_card_data_in_output: Any
) -> None:
    api.create_payment()

    created = [
        line for line in _lines(no_card_data_in_output) if line["message"] == "payment created"
    ]
    assert created and created[0][CORRELATION_KEY]


def test_the_reconciler_is_quiet_when_idle_and_reports_a_run_that_found_work(
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    clock: FakeClock,
    no_card_data_in_output: Any,
) -> None:
    # GIVEN scheduled runs with nothing stalled
    for _ in range(3):
        reconcile(services)
    idle = [line for line in _lines(no_card_data_in_output) if line.get("message") == RUN_LINE]

    # WHEN a payment's job is lost and a run past the threshold finds it
    submit(api, 24)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    clock.advance(aws.settings.reconcile_after_seconds + 1)
    reconcile(services)

    # THEN the idle runs said nothing, and the busy one said what it did
    runs = [line for line in _lines(no_card_data_in_output) if line.get("message") == RUN_LINE]
    assert idle == []
    assert len(runs) == 1
    assert (runs[0]["stalled"], runs[0]["requeued"]) == (1, 1)
