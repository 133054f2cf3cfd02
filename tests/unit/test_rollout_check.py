"""A new version of a rarely run function (the reconciler) is judged by one real run before
it takes traffic: what makes that run a pass or a fail."""

from __future__ import annotations

import io

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from core.adapters.lambda_rollouts import invoke_once
from core.use_cases.rollout_check import RolloutCheck, TrialRun, verdict_of


@pytest.mark.parametrize(
    ("run", "broken"),
    [
        (TrialRun(report={"stalled": 0, "errors": 0, "complete": True}), False),
        (TrialRun(report={"stalled": 5, "errors": 1, "complete": True}), False),
        (TrialRun(report={"stalled": 3, "errors": 3, "complete": True}), True),
        (TrialRun(function_error="Unhandled"), True),
    ],
    ids=[
        "a quiet run",
        "one payment failed, the others went on",
        "every payment failed",
        "the run failed as a whole",
    ],
)
def test_a_trial_run_passes_unless_the_version_is_broken(run: TrialRun, broken: bool) -> None:
    assert (verdict_of(run) is not None) is broken


def _check(trials: list[TrialRun], budget: float) -> tuple[RolloutCheck, list[float]]:
    slept: list[float] = []
    left = [budget]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        left[0] -= seconds

    check = RolloutCheck(invoke=lambda: trials.pop(0), sleep=sleep, seconds_left=lambda: left[0])
    return check, slept


def test_a_trial_throttled_by_a_scheduled_run_waits_for_it_then_runs() -> None:
    # GIVEN the reconciler's concurrency held by a scheduled run for two tries
    busy, quiet = TrialRun(throttled=True), TrialRun(report={"stalled": 0, "errors": 0})
    check, slept = _check([busy, busy, quiet], budget=300)

    # THEN the check waits, runs the new version, and lets it go on
    assert check.run() is None
    assert slept == [15.0, 15.0]


def test_a_version_that_never_gets_to_run_is_not_let_through() -> None:
    check, _ = _check([TrialRun(throttled=True)] * 100, budget=100)

    assert check.run() == "the new version could not be run: its concurrency stayed taken"


def test_the_lambda_answers_are_read_as_trial_runs() -> None:
    # Lambda cannot run a function here (moto needs Docker for that): botocore's Stubber
    # answers as the service does, on the wire format the adapter reads.
    client = boto3.client("lambda", region_name="us-east-1")
    target = "arn:aws:lambda:us-east-1:123456789012:function:paygate-reconciler:7"
    with Stubber(client) as stub:
        stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _payload(b"{}")},
        )
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": _payload(b'{"stalled": 2, "errors": 0}')},
        )

        assert invoke_once(client, target) == TrialRun(throttled=True)
        assert invoke_once(client, target) == TrialRun(function_error="Unhandled")
        assert invoke_once(client, target) == TrialRun(report={"stalled": 2, "errors": 0})


def _payload(body: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(body), len(body))
