"""Finds payments in flight with no progress for too long and queues them again.

It closes every window in which a job could be lost: make-payment crashing (or SQS
failing) between its DB write and the enqueue, and a re-check that was never delivered.
It reads the sparse in-flight index, never the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import Clock, epoch_seconds
from core.errors import ConcurrentUpdateError
from core.job_queue import JobQueue, PaymentJob
from core.observability import MetricsRecorder, logger
from core.payments_repository import PaymentsRepository
from core.settings import Settings

RECONCILER_CORRELATION_ID = "reconciler"


@dataclass(frozen=True)
class ReconcileReport:
    stalled: int
    requeued: int
    stuck: int


class Reconciler:
    def __init__(
        self,
        *,
        payments: PaymentsRepository,
        jobs: JobQueue,
        clock: Clock,
        settings: Settings,
        metrics: MetricsRecorder,
    ) -> None:
        self._payments = payments
        self._jobs = jobs
        self._clock = clock
        self._settings = settings
        self._metrics = metrics

    def run(self, limit: int = 200) -> ReconcileReport:
        now = epoch_seconds(self._clock)
        stalled = self._payments.find_stalled(now - self._settings.reconcile_after_seconds, limit)
        requeued = stuck = 0
        for candidate in stalled:
            payment = self._payments.get(candidate.payment_id)
            if payment is None or not payment.status.is_in_flight:
                continue
            log = {"paymentId": payment.payment_id, "status": payment.status.value}
            if payment.reconcile_count >= self._settings.reconcile_max_attempts:
                # Its jobs keep failing: they are in the DLQ, where ops are alarmed.
                logger.error("payment stuck in flight; see the DLQ", extra=log)
                stuck += 1
                continue
            # Queue first, then note the progress: a failure in between only queues twice,
            # which the worker absorbs; the other order could lose the payment.
            correlation_id = payment.correlation_id or RECONCILER_CORRELATION_ID
            self._jobs.publish(PaymentJob(payment.payment_id, correlation_id))
            try:
                self._payments.touch_progress(payment, now)
            except ConcurrentUpdateError:
                logger.info("payment moved on while being re-queued", extra=log)
            logger.warning("re-queued a stalled payment", extra=log)
            requeued += 1
        self._metrics.count("PaymentsReenqueued", requeued)
        self._metrics.count("PaymentsStuck", stuck)
        return ReconcileReport(stalled=len(stalled), requeued=requeued, stuck=stuck)
