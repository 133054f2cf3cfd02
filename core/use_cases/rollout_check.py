"""Judging a new version of a function that runs too rarely for a canary to see it (the
reconciler: one run per 5 minutes, so a 10% canary of 5 minutes would most often see no
run at all): before any traffic shifts, the new version is run once, for real, and the
deployment goes on only if that run worked. Running it is safe: a reconciler run is what
the schedule does anyway, and overlapping runs are harmless (each payment's re-queue is
conditional)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrialRun:
    """What one invocation of the new version gave: throttled (its concurrency taken, by a
    scheduled run for one), failed as a whole (Lambda's FunctionError), or its report."""

    throttled: bool = False
    function_error: str | None = None
    report: dict[str, Any] | None = None


def verdict_of(run: TrialRun) -> str | None:
    """Why the new version is broken, or None if the run worked. A run that failed on
    every payment it looked at is broken (a missing permission, a bug on every path); one
    that failed on some went on with the others, as a working version does."""
    if run.function_error is not None:
        return f"the run failed as a whole ({run.function_error})"
    report = run.report or {}
    errors, looked_at = int(report.get("errors", 0)), int(report.get("stalled", 0))
    if errors and errors >= looked_at:
        return f"the run failed on every payment it looked at ({errors})"
    return None


@dataclass
class RolloutCheck:
    invoke: Callable[[], TrialRun]
    sleep: Callable[[float], None]
    # Seconds left for the check (the hook's own time budget).
    seconds_left: Callable[[], float]
    # A throttled trial waits this long for the running one to finish, and tries again.
    retry_after_seconds: float = 15.0

    def run(self) -> str | None:
        """Why the new version must not take traffic, or None if it may."""
        while True:
            trial = self.invoke()
            if not trial.throttled:
                return verdict_of(trial)
            if self.seconds_left() < self.retry_after_seconds * 2:
                return "the new version could not be run: its concurrency stayed taken"
            self.sleep(self.retry_after_seconds)
