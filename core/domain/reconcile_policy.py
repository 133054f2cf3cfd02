"""When the reconciler looks at a payment in flight, and when it takes its job for lost.

It looks after `reconcile_after` seconds with no progress, and in any case in time to settle
the payment before its resolution bound. The time is kept on the payment (the in-flight
index's sort key), so the reconciler finds every payment due with one query and never scans.

A job is lost only once nothing has been seen of it for longer than a job can legitimately
wait: `reconcile_after` (longer than a re-check's delay and than the queue's redelivery
window, receives x visibility timeout) plus the time the queue's backlog takes to drain at
the slowest. What is seen of a job is on its payment: its enqueue (a state change, or the
reconciler queueing it again) and every receive that failed (the worker notes each one). A
job waiting in a backlog is received in time, so it is never queued twice; a job lost (a
crash between the DB write and the enqueue, a message deleted) is queued again once the
backlog ahead of it would have drained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.domain.payment import Payment, PaymentStatus
from core.resources import WORKER_TIMEOUT_SECONDS
from core.settings import Settings

# A capture, void or refund has no bound to be settled at: the reconciler queues its job
# again for as long as it takes, each time waiting twice as long, up to 64 x reconcileAfter.
WORK_BACKOFF_DOUBLINGS = 6


@dataclass(frozen=True)
class ReconcilePolicy:
    reconcile_after_seconds: int
    resolve_after_seconds: int
    # The reconciler's period: a payment is settled once the bound is closer than this,
    # so no run can be late for it.
    every_seconds: int
    # The slowest the workers take jobs off the queue: every instance holding a full batch
    # for its whole timeout (a bank that times out on every call).
    drain_jobs_per_second: float

    @classmethod
    def of(cls, settings: Settings) -> ReconcilePolicy:
        return cls(
            settings.reconcile_after_seconds,
            settings.resolve_after_seconds,
            settings.reconcile_every_seconds,
            settings.worker_instances * settings.worker_concurrency / WORKER_TIMEOUT_SECONDS,
        )

    def settle_from(self, created_at: int) -> int:
        """From this time on, a payment still in flight is settled with the bank: one
        reconciler period before its bound (created + resolve_after)."""
        return created_at + self.resolve_after_seconds - self.every_seconds

    def look_at(self, progress_at: int, created_at: int) -> int:
        """When the reconciler looks next at a payment whose last progress was at
        `progress_at` (a change of state, or its own last look)."""
        return min(progress_at + self.reconcile_after_seconds, self.settle_from(created_at))

    def next_look(self, payment: Payment, progress_at: int | None = None) -> int | None:
        """When the reconciler looks at the payment next (its in-flight index entry), from
        its last progress (`progress_at`, else its last change); None if never. An
        authorization in flight is settled by its bound; a capture, void or refund whose job
        is lost is queued again like a payment's; an authorization held too long is voided."""
        progress = payment.updated_at if progress_at is None else progress_at
        if payment.status.is_in_flight:
            return self.look_at(progress, payment.created_at)
        if payment.has_work_in_flight:
            backoff: int = 2 ** min(payment.reconcile_count, WORK_BACKOFF_DOUBLINGS)
            return progress + self.reconcile_after_seconds * backoff
        if payment.status is PaymentStatus.AUTHORIZED:
            return payment.hold_ends_at
        return None

    def backlog_wait_seconds(self, backlog: int) -> int:
        """The longest `backlog` jobs ahead of one keep it waiting."""
        return math.ceil(max(0, backlog) / self.drain_jobs_per_second)

    def lost_from(self, payment: Payment, backlog: int) -> int:
        """From this time on, the job of an in-flight payment is taken for lost, with
        `backlog` jobs in the queue now."""
        return (
            last_seen(payment) + self.reconcile_after_seconds + self.backlog_wait_seconds(backlog)
        )


def last_seen(payment: Payment) -> int:
    """When its job was last seen: queued (a state change, make-payment's enqueue, the
    reconciler's) or received by a worker that failed on it."""
    failed_at = payment.failure.last_at if payment.failure else 0
    return max(payment.updated_at, failed_at, payment.reconciled_at or 0)
