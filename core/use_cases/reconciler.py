"""Finds payments in flight with no progress for too long and moves each one on.

It closes every window in which a job could be lost: make-payment crashing (or SQS
failing) between its DB write and the enqueue, a re-check that was never delivered, a job
that expired in the DLQ. For each stalled payment, oldest first:
- past its resolution bound: settle it with the bank now (its outcome, or Failed once the
  bank voided it); if the bank cannot be asked, erase its card anyway;
- re-queued too often already (its jobs are in the DLQ): report it stuck;
- its job seen lately, or possibly still waiting in the queue's backlog (ReconcilePolicy):
  look at it again once the job would be lost, queueing nothing. A backlog (a bank outage,
  a slow bank) is never fed duplicates, which would only make it longer;
- otherwise (its job is lost): queue its job again.
Each one it looks at leaves the stalled window (its progress time moves on), so a run pages
through every stalled payment, stuck ones never hide the others, and a run that runs out of
time leaves the rest to the next. One payment's failure is counted and never stops the run.
It reads the sparse in-flight index, never the whole table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from core.domain.clock import Clock, epoch_seconds
from core.domain.errors import ConcurrentUpdateError, PaygateError
from core.domain.jobs import PaymentJob
from core.domain.payment import Payment, PaymentStatus, VoidReason
from core.domain.ports import JobPublisher, Metrics, PaymentStore, StalledPayment
from core.domain.reconcile_policy import ReconcilePolicy
from core.observability import CORRELATION_KEY, logger
from core.settings import Settings
from core.use_cases.payment_changes import apply_change
from core.use_cases.payment_processor import PaymentProcessor

RECONCILER_CORRELATION_ID = "reconciler"
# Stop looking at more payments when less than this is left of the run's time.
STOP_BEFORE_SECONDS = 5.0
R = TypeVar("R")


@dataclass
class ReconcileReport:
    stalled: int = 0
    requeued: int = 0
    # Their jobs still on their way (seen lately, or in the backlog): looked at later.
    waiting: int = 0
    stuck: int = 0
    resolved: int = 0
    errors: int = 0
    # False when the run stopped for time: the next run goes on with the rest.
    complete: bool = True

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "stalled": self.stalled,
            "requeued": self.requeued,
            "waiting": self.waiting,
            "stuck": self.stuck,
            "resolved": self.resolved,
            "errors": self.errors,
            "complete": self.complete,
        }


class _Action(Enum):
    NOTHING = "nothing"  # final or gone meanwhile
    QUEUE = "queue"
    # A capture, void or refund past its attempts: reported stuck, and queued again (less
    # often each time: ReconcilePolicy.next_look), as nothing settles it at a bound.
    STUCK_QUEUE = "stuck, queued again"
    WAIT = "wait"
    STUCK = "stuck"
    RESOLVED = "resolved"
    ERROR = "error"
    OUT_OF_TIME = "out of time"


class _Backlog:
    """The jobs queue's depth, read once per run and only if a payment's job could be lost
    (one GetQueueAttributes). Unreadable, it counts as empty: a lost job is then queued
    again, at worst beside one that was waiting."""

    def __init__(self, jobs: JobPublisher) -> None:
        self._jobs = jobs
        self._lock = threading.Lock()
        self._depth: int | None = None

    def depth(self) -> int:
        with self._lock:
            if self._depth is None:
                try:
                    self._depth = self._jobs.depth().total
                except Exception as error:
                    logger.warning(
                        "the jobs queue's depth could not be read; taken as empty",
                        extra={"errorType": type(error).__name__},
                    )
                    self._depth = 0
            return self._depth


@dataclass(frozen=True)
class _Run:
    now: int
    report: ReconcileReport
    seconds_left: Callable[[], float]
    backlog: _Backlog


class Reconciler:
    def __init__(
        self,
        *,
        payments: PaymentStore,
        jobs: JobPublisher,
        processor: PaymentProcessor,
        clock: Clock,
        settings: Settings,
        metrics: Metrics,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._payments = payments
        self._jobs = jobs
        self._processor = processor
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._policy = ReconcilePolicy.of(settings)
        self._monotonic = monotonic

    def run(self, *, seconds_left: Callable[[], float]) -> ReconcileReport:
        """One pass over the stalled payments, a page at a time, until done or until
        `seconds_left()` (the run's remaining time) falls under STOP_BEFORE_SECONDS."""
        run = _Run(
            epoch_seconds(self._clock), ReconcileReport(), seconds_left, _Backlog(self._jobs)
        )
        with _pool(self._settings.reconcile_concurrency) as pool:
            for page in self._payments.stalled_pages(run.now):
                if seconds_left() < STOP_BEFORE_SECONDS:
                    run.report.complete = False
                    break
                self._reconcile_page(page, run, pool)
                if not run.report.complete:
                    break
        for name, value in (
            ("PaymentsReenqueued", run.report.requeued),
            ("PaymentsStuck", run.report.stuck),
            ("ReconcilerErrors", run.report.errors),
        ):
            self._metrics.count(name, value)
        return run.report

    def _reconcile_page(self, page: list[StalledPayment], run: _Run, pool: Executor) -> None:
        """Looks at every payment of the page concurrently; queues the jobs of those to
        queue again in batches (SendMessageBatch), and only then notes their progress."""
        looked = list(pool.map(lambda candidate: self._isolated(candidate, run), page))
        report = run.report
        for action, _ in looked:
            report.stalled += action is not _Action.OUT_OF_TIME
            report.complete &= action is not _Action.OUT_OF_TIME
            report.stuck += action in (_Action.STUCK, _Action.STUCK_QUEUE)
            report.resolved += action is _Action.RESOLVED
            report.waiting += action is _Action.WAIT
            report.errors += action is _Action.ERROR
        to_queue = [
            payment
            for action, payment in looked
            if payment and action in (_Action.QUEUE, _Action.STUCK_QUEUE)
        ]
        if not to_queue:
            return
        jobs = {payment.payment_id: _job_of(payment) for payment in to_queue}
        unqueued = {job.payment_id for job in self._jobs.publish_many(list(jobs.values()))}
        for payment_id in unqueued:
            logger.error(
                "re-queueing a stalled payment failed; the next run tries again",
                extra={"paymentId": payment_id, CORRELATION_KEY: jobs[payment_id].correlation_id},
            )
        queued = [payment for payment in to_queue if payment.payment_id not in unqueued]
        noted = pool.map(lambda payment: self._note_progress(payment, run.now), queued)
        report.requeued += len(queued)
        report.errors += len(unqueued) + sum(not ok for ok in noted)

    def _isolated(self, candidate: StalledPayment, run: _Run) -> tuple[_Action, Payment | None]:
        if run.seconds_left() < STOP_BEFORE_SECONDS:
            return _Action.OUT_OF_TIME, None
        try:
            return self._examine(candidate, run)
        except Exception as error:
            logger.error(
                "reconciling a payment failed; going on with the others",
                extra={
                    "paymentId": candidate.payment_id,
                    "reason": self._processor.reason_of(error),
                },
            )
            return _Action.ERROR, None

    def _examine(self, candidate: StalledPayment, run: _Run) -> tuple[_Action, Payment | None]:
        payment = self._payments.get(candidate.payment_id)
        if payment is None:
            return _Action.NOTHING, None
        if payment.status is PaymentStatus.AUTHORIZED and payment.settlement is None:
            return self._void_if_held_too_long(payment, run)
        if not payment.has_work_in_flight:
            return _Action.NOTHING, None
        settles = payment.status.is_in_flight
        if settles and run.now >= self._policy.settle_from(payment.created_at):
            self._settle(payment, _job_of(payment), run.seconds_left)
            return _Action.RESOLVED, payment
        stuck = payment.reconcile_count >= self._settings.reconcile_max_attempts
        if stuck and settles:
            # Its jobs keep failing (they are in the DLQ, alarmed); it is settled at its bound.
            logger.error("payment stuck in flight; see the DLQ", extra=_log_of(payment))
            self._note_looked_at(payment, run.now)
            return _Action.STUCK, payment
        if self._on_its_way(payment, run):
            return _Action.WAIT, payment
        if stuck:
            logger.error(
                "capture, void or refund stuck; queued again, less often; see the DLQ",
                extra=_log_of(payment),
            )
            return _Action.STUCK_QUEUE, payment
        # Queued first (with the page's others), then its progress noted: a failure in
        # between only queues twice, which the worker absorbs; the other order could lose it.
        return _Action.QUEUE, payment

    def _void_if_held_too_long(self, payment: Payment, run: _Run) -> tuple[_Action, Payment | None]:
        """An authorization not captured within AUTHORIZATION_HOLD_SECONDS is voided (the
        merchant is told by the payment.voided event): the void is asked for on the payment,
        then queued with the page's others (a lost job is found again like any other)."""
        held_until = self._policy.next_look(payment)
        if held_until is None or run.now < held_until:
            return _Action.NOTHING, None
        try:
            voided = apply_change(
                self._payments, payment, lambda p: p.asks_void(run.now, VoidReason.EXPIRED)
            )
        except PaygateError:
            # The merchant captured or voided it meanwhile (NotCapturableError), or it is busy.
            return _Action.NOTHING, None
        logger.info("authorization held too long: voiding it", extra=_log_of(payment))
        self._metrics.count("AuthorizationsExpired")
        return _Action.QUEUE, voided

    def _on_its_way(self, payment: Payment, run: _Run) -> bool:
        """True if its job may still come (seen lately, or in the backlog): it is then
        looked at again once it would be lost, or at its settle time if that is sooner."""
        lost_from = self._policy.lost_from(payment, backlog=0)
        if run.now >= lost_from:
            lost_from = self._policy.lost_from(payment, run.backlog.depth())
            if run.now >= lost_from:
                return False
        look_at = lost_from
        if payment.status.is_in_flight:
            look_at = min(lost_from, self._policy.settle_from(payment.created_at))
        try:
            self._payments.note_waiting(payment, look_at)
        except ConcurrentUpdateError:
            logger.info("payment moved on while being reconciled", extra=_log_of(payment))
        return True

    def _settle(self, payment: Payment, job: PaymentJob, seconds_left: Callable[[], float]) -> None:
        deadline = self._monotonic() + max(0.0, seconds_left() - STOP_BEFORE_SECONDS)
        try:
            self._processor.resolve(payment, job, deadline=deadline)
        except Exception:
            if payment.card_ciphertext is not None:
                # No card data outlives the bound, even while the bank cannot be asked.
                self._payments.erase_card(payment)
                logger.warning(
                    "card erased at the bound; settling later",
                    extra={"paymentId": payment.payment_id},
                )
            raise

    def _note_looked_at(self, payment: Payment, now: int) -> None:
        try:
            self._payments.touch_progress(payment, now)
        except ConcurrentUpdateError:
            logger.info("payment moved on while being reconciled", extra=_log_of(payment))

    def _note_progress(self, payment: Payment, now: int) -> bool:
        """After its job was queued again: note it (False if that failed)."""
        try:
            self._note_looked_at(payment, now)
        except Exception as error:
            logger.error(
                "noting a re-queued payment failed",
                extra=_log_of(payment) | {"reason": self._processor.reason_of(error)},
            )
            return False
        logger.warning("re-queued a stalled payment", extra=_log_of(payment))
        return True


class _InOrder(Executor):
    """One payment at a time, on the run's own thread: nothing to gain from a pool."""

    def submit(self, fn: Callable[..., R], /, *args: object, **kwargs: object) -> Future[R]:
        done: Future[R] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as error:
            done.set_exception(error)
        return done


def _pool(concurrency: int) -> Executor:
    return ThreadPoolExecutor(max_workers=concurrency) if concurrency > 1 else _InOrder()


def _job_of(payment: Payment) -> PaymentJob:
    return PaymentJob(payment.payment_id, payment.correlation_id or RECONCILER_CORRELATION_ID)


def _log_of(payment: Payment) -> dict[str, str]:
    return {
        "paymentId": payment.payment_id,
        CORRELATION_KEY: _job_of(payment).correlation_id,
        "status": payment.status.value,
    }
