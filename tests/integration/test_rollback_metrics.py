"""What a canary's rollback alarms count (infra/monitoring.py): failures of a function's own
making, per executed version; never the bank's, a passing AWS fault's or the API's 503s."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.bootstrap import Services
from core.resources import EXECUTED_VERSION_DIMENSION, FUNCTION_NAME_DIMENSION
from tests.conftest import ApiClient, AwsEnv
from tests.faults import throttle
from tests.integration.worker_support import event_source, submit


def _own_failures(out: str) -> list[dict[str, Any]]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [document for document in documents if "OwnFailures" in document]


def test_a_worker_failing_on_its_own_counts_it_for_its_version(
    api: ApiClient, aws: AwsEnv, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a worker whose role may not decrypt cards (a broken release's missing grant)
    submit(api, 1250)
    capsys.readouterr()
    with throttle(services.clients.kms, "Decrypt", times=5, code="AccessDeniedException"):
        # WHEN it takes the job
        assert event_source(aws, services).poll_once().failed == 1

    # THEN the failure is counted as its own, under its function and version
    (counted,) = _own_failures(capsys.readouterr().out)
    assert counted["OwnFailures"] == [1.0]
    (dimensions,) = counted["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert sorted(dimensions) == sorted([FUNCTION_NAME_DIMENSION, EXECUTED_VERSION_DIMENSION])


def test_the_bank_or_a_passing_aws_fault_is_no_failure_of_the_workers_own(
    api: ApiClient, aws: AwsEnv, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the bank down for one payment's job, and KMS throttling for another's
    submit(api, 1250)
    services.bank_controls.set_outage(True)
    assert event_source(aws, services).poll_once().failed == 1
    services.bank_controls.set_outage(False)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    submit(api, 1250)
    # (a worker instance of its own: it unwraps the day's card key, with KMS)
    worker = Services(aws.settings, aws.clients(), services.clock)
    with throttle(worker.clients.kms, "Decrypt", times=50, code="ThrottlingException"):
        assert event_source(aws, worker).poll_once().failed == 1

    # THEN neither failure is the worker's own
    assert _own_failures(capsys.readouterr().out) == []


def test_the_apis_503s_roll_nothing_back_its_500s_do(
    api: ApiClient, aws: AwsEnv, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"merchantId": "merchant-a"}
    with throttle(services.clients.dynamodb, "PutItem", times=5):
        assert api.post("/create-payment", body).status == 503
    assert _own_failures(capsys.readouterr().out) == []

    with throttle(services.clients.dynamodb, "PutItem", times=5, code="ValidationException"):
        assert api.post("/create-payment", body).status == 500
    assert len(_own_failures(capsys.readouterr().out)) == 1
