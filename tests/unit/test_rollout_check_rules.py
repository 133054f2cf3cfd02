"""The rollout check's verdicts as the deployment shows them (CodeDeploy's hook fails with
the reason), and when it gives up waiting for the reconciler's concurrency."""

from __future__ import annotations

import pytest

from core.use_cases.rollout_check import TrialRun, verdict_of
from tests.unit.test_rollout_check import _check


@pytest.mark.parametrize(
    ("run", "verdict"),
    [
        (TrialRun(function_error="Unhandled"), "the run failed as a whole (Unhandled)"),
        (
            TrialRun(report={"stalled": 3, "errors": 3}),
            "the run failed on every payment it looked at (3)",
        ),
        (
            TrialRun(report={"stalled": 2, "errors": 4}),
            "the run failed on every payment it looked at (4)",
        ),
        (TrialRun(report={"stalled": 4, "errors": 3}), None),
        (TrialRun(report={"stalled": 2}), None),
        (TrialRun(report={}), None),
        (TrialRun(), None),
    ],
    ids=[
        "a function error names its kind",
        "as many errors as payments",
        "more errors than payments (a payment failed twice)",
        "one payment went through",
        "a report with no errors",
        "an empty report",
        "no report at all",
    ],
)
def test_the_verdict_says_why_a_version_is_broken(run: TrialRun, verdict: str | None) -> None:
    assert verdict_of(run) == verdict


def test_a_function_error_is_the_verdict_whatever_the_report_says() -> None:
    run = TrialRun(function_error="Unhandled", report={"stalled": 1, "errors": 0})

    assert verdict_of(run) == "the run failed as a whole (Unhandled)"


def test_a_report_of_errors_with_no_payment_count_is_broken() -> None:
    assert verdict_of(TrialRun(report={"errors": 1})) == (
        "the run failed on every payment it looked at (1)"
    )


def test_a_throttled_trial_is_tried_again_while_two_waits_still_fit() -> None:
    # GIVEN a trial throttled once, with exactly two waits of time left
    busy, broken = TrialRun(throttled=True), TrialRun(report={"stalled": 1, "errors": 1})
    check, slept = _check([busy, broken], budget=30)

    # WHEN the check runs
    verdict = check.run()

    # THEN it waited once and judged the second trial
    assert slept == [15.0]
    assert verdict == "the run failed on every payment it looked at (1)"


def test_a_throttled_trial_with_less_than_two_waits_left_gives_up_without_sleeping() -> None:
    check, slept = _check([TrialRun(throttled=True)], budget=29.9)

    assert check.run() == "the new version could not be run: its concurrency stayed taken"
    assert slept == []
