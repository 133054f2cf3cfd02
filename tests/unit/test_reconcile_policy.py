"""When the reconciler takes a job for lost (core/domain/reconcile_policy.py): after the last
sign of it, the quiet period, and the time the queue's backlog takes to drain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.payment import FailureNotes, Payment, PaymentStatus
from core.domain.reconcile_policy import ReconcilePolicy, last_seen

POLICY = ReconcilePolicy(
    reconcile_after_seconds=60, resolve_after_seconds=600, every_seconds=30, drain_jobs_per_second=4
)
PAYMENT = Payment("p", "m", PaymentStatus.PENDING, 3, created_at=1_000, updated_at=1_050)


@pytest.mark.parametrize(("backlog", "seconds"), [(0, 0), (-5, 0), (8, 2), (10, 3)])
def test_a_backlog_keeps_a_job_waiting_as_long_as_it_takes_to_drain(
    backlog: int, seconds: int
) -> None:
    # 4 jobs a second at the slowest: 10 jobs ahead take 2.5 s, rounded up
    assert POLICY.backlog_wait_seconds(backlog) == seconds


@pytest.mark.parametrize(
    ("payment", "seen_at"),
    [
        (PAYMENT, 1_050),
        (replace(PAYMENT, reconciled_at=1_100), 1_100),
        (replace(PAYMENT, failure=FailureNotes("bank down", 1_060, 1_120, 2)), 1_120),
        (
            replace(PAYMENT, reconciled_at=1_200, failure=FailureNotes("x", 1_060, 1_120, 2)),
            1_200,
        ),
    ],
    ids=["its last change", "the reconciler's re-queue", "a failed receive", "the latest"],
)
def test_a_job_is_last_seen_at_the_latest_sign_of_it(payment: Payment, seen_at: int) -> None:
    assert last_seen(payment) == seen_at
    assert POLICY.lost_from(payment, backlog=8) == seen_at + 60 + 2
