"""The reconciler's rules as on-call sees them: the report the scheduled function returns,
its metrics, its log lines, and each boundary (the settle time, the time a job is taken for
lost, the run's last seconds), on the in-memory fakes."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from core.domain.errors import BankUnavailableError, ConcurrentUpdateError
from core.domain.jobs import PaymentJob
from core.domain.payment import (
    AUTHORIZATION_HOLD_SECONDS,
    CaptureMethod,
    Payment,
    PaymentStatus,
    SettlementKind,
    VoidReason,
)
from core.domain.ports import QueueDepth, StalledPayment
from core.domain.reconcile_policy import ReconcilePolicy
from core.observability import CORRELATION_KEY
from core.use_cases.reconciler import STOP_BEFORE_SECONDS, ReconcileReport
from tests.fakes import PAGE_ITEMS, InMemoryJobQueue, InMemoryPaymentStore
from tests.unit.log_lines import lines_saying
from tests.unit.use_case_world import MERCHANT, SETTINGS, World


def _after_threshold(world: World) -> None:
    world.clock.advance(world.settings.reconcile_after_seconds + 1)


def _line_of(payment: Payment, status: str = "Processing") -> dict[str, str]:
    return {"paymentId": payment.payment_id, CORRELATION_KEY: "req-1", "status": status}


def _has(line: dict[str, Any], expected: dict[str, Any]) -> bool:
    return {key: line.get(key) for key in expected} == expected


def _times_left(*values: float) -> Callable[[], float]:
    """The run's remaining time as each look at it finds it, the last value from then on."""
    left = list(values)
    return lambda: left.pop(0) if len(left) > 1 else left[0]


def test_the_report_of_a_run_names_every_count_and_the_metrics_follow_it() -> None:
    # GIVEN a payment whose job was lost
    world = World()
    world.submitted()
    _after_threshold(world)

    # WHEN the reconciler runs
    report = world.reconcile()

    # THEN the scheduled function's answer says what it did, and so do the metrics
    assert report.as_dict() == {
        "stalled": 1,
        "requeued": 1,
        "waiting": 0,
        "stuck": 0,
        "resolved": 0,
        "errors": 0,
        "complete": True,
    }
    counts = world.metrics.counts
    assert (counts["PaymentsReenqueued"], counts["PaymentsStuck"], counts["ReconcilerErrors"]) == (
        1,
        0,
        0,
    )


def test_a_requeued_job_keeps_the_request_correlation_id_and_is_logged(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a payment submitted by request "req-1" whose job was lost
    world = World()
    payment = world.submitted()
    _after_threshold(world)

    # WHEN the reconciler queues it again
    world.reconcile()

    # THEN the job carries the request's correlation id, and on-call reads one line for it
    assert [job.correlation_id for job, _ in world.jobs.take()] == ["req-1"]
    lines = lines_saying(no_card_data_in_output, "re-queued a stalled payment")
    assert len(lines) == 1 and _has(lines[0], _line_of(payment))


def test_a_payment_final_or_gone_since_the_index_was_read_is_left_alone() -> None:
    # GIVEN an index page naming a payment that was accepted meanwhile and one that is gone
    world = World(store_class=StaleIndexStore)
    accepted = world.submitted()
    world.processor.process(PaymentJob(accepted.payment_id, "req-1"), deadline=_soon())
    world.store.also_listed = [accepted.payment_id, "gone"]  # type: ignore[attr-defined]
    _after_threshold(world)

    # WHEN the reconciler runs
    report = world.reconcile()

    # THEN nothing is queued and nothing counts as an error
    assert (report.stalled, report.requeued, report.errors) == (2, 0, 0)
    assert world.jobs.published == []


def test_a_payment_is_settled_from_exactly_its_settle_time() -> None:
    # GIVEN a payment whose job never reached the bank
    world = World()
    payment = world.submitted()
    settle_from = ReconcilePolicy.of(world.settings).settle_from(payment.created_at)

    # WHEN the reconciler runs at exactly its settle time
    world.clock.advance(settle_from - payment.created_at)
    report = world.reconcile()

    # THEN it is settled: the bank voided it, so it ends Failed
    assert (report.resolved, report.requeued) == (1, 0)
    settled = world.store.get(payment.payment_id)
    assert settled is not None and settled.status is PaymentStatus.FAILED


def test_a_job_is_lost_at_exactly_the_threshold_when_the_queue_is_empty() -> None:
    world = World()
    payment = world.submitted()
    world.clock.advance(world.settings.reconcile_after_seconds)

    report = world.reconcile()

    assert (report.waiting, report.requeued) == (0, 1)
    assert [job.payment_id for job, _ in world.jobs.take()] == [payment.payment_id]


def test_a_job_behind_a_backlog_is_lost_at_exactly_the_time_the_backlog_drains() -> None:
    # GIVEN a payment whose job was lost, behind a backlog of 500 jobs that stays
    world = World()
    payment = world.submitted()
    backlog = 500
    world.jobs.publish_many([PaymentJob(f"other-{n}", "req") for n in range(backlog)])
    _after_threshold(world)
    assert world.reconcile().waiting == 1

    # WHEN the reconciler runs at exactly the time that backlog would have drained
    wait = ReconcilePolicy.of(world.settings).backlog_wait_seconds(backlog)
    world.clock.advance(wait - 1)
    report = world.reconcile()

    # THEN its job is taken for lost and queued again
    assert (report.waiting, report.requeued) == (0, 1)
    assert world.jobs.published[-1][0].payment_id == payment.payment_id


def test_two_payments_each_waiting_or_each_settled_are_both_counted() -> None:
    # GIVEN two payments behind a backlog, and later two at their bound
    world = World()
    first, second = world.submitted(), world.submitted()
    world.jobs.publish_many([PaymentJob(f"other-{n}", "req") for n in range(999)])
    _after_threshold(world)

    # WHEN the reconciler runs, then again at their bound
    waiting = world.reconcile()
    world.clock.advance(world.settings.resolve_after_seconds)
    settled = world.reconcile()

    # THEN each report counts both
    assert (waiting.waiting, waiting.requeued) == (2, 0)
    assert (settled.resolved, settled.stalled, settled.errors) == (2, 2, 0)
    for payment in (first, second):
        assert world.store.get(payment.payment_id).status is PaymentStatus.FAILED  # type: ignore[union-attr]


def test_two_stuck_payments_are_both_reported_and_logged(no_card_data_in_output: Any) -> None:
    # GIVEN two payments whose jobs were queued again as often as allowed
    world = World()
    payments = [world.submitted(), world.submitted()]
    for _ in range(world.settings.reconcile_max_attempts):
        _after_threshold(world)
        world.reconcile()
        world.jobs.take()

    # WHEN the reconciler finds them stalled again
    _after_threshold(world)
    report = world.reconcile()

    # THEN both are stuck, each with a line that sends on-call to the DLQ
    assert (report.stuck, report.requeued) == (2, 0)
    lines = lines_saying(no_card_data_in_output, "payment stuck in flight; see the DLQ")
    assert sorted(line["paymentId"] for line in lines) == sorted(p.payment_id for p in payments)
    assert all(_has(line, {CORRELATION_KEY: "req-1", "status": "Processing"}) for line in lines)
    # AND they are looked at again only after another threshold, not at the next run
    assert world.reconcile().stalled == 0


def test_an_authorization_held_too_long_is_voided_from_exactly_its_hold_end(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a manual-capture payment authorized, its index read a second before its hold ends
    world = World(store_class=StaleIndexStore)
    authorized = _authorized(world)
    world.clock.advance(_held_until(authorized) - 1 - world.clock.now())
    world.store.also_listed = [authorized.payment_id]  # type: ignore[attr-defined]

    # WHEN the reconciler runs then, and again at exactly the hold's end
    early = world.reconcile()
    world.store.also_listed = []  # type: ignore[attr-defined]
    world.clock.advance(1)
    due = world.reconcile()

    # THEN only the second voids it: asked on the payment, its job queued, logged, counted
    assert (early.requeued, due.requeued) == (0, 1)
    voided = world.store.get(authorized.payment_id)
    assert voided is not None and voided.settlement is not None
    assert voided.settlement.kind is SettlementKind.VOID
    assert voided.settlement.void_reason is VoidReason.EXPIRED
    assert [job.payment_id for job, _ in world.jobs.take()] == [authorized.payment_id]
    line = lines_saying(no_card_data_in_output, "authorization held too long: voiding it")
    assert len(line) == 1 and _has(line[0], _line_of(authorized, "Authorized"))
    assert world.metrics.counts["AuthorizationsExpired"] == 1


def test_a_capture_whose_job_waits_in_a_backlog_is_looked_at_once_it_would_have_drained() -> None:
    # GIVEN an authorized payment whose capture was asked, its job behind a backlog
    world = World()
    _capture_asked(world)
    world.jobs.publish_many([PaymentJob(f"other-{n}", "req") for n in range(999)])
    _after_threshold(world)

    # WHEN the reconciler runs, and runs again at once
    report = world.reconcile()
    again = world.reconcile()

    # THEN it waits for the backlog, and is not looked at again before it would have drained
    assert (report.waiting, report.requeued) == (1, 0)
    assert again.stalled == 0


def test_a_void_the_merchant_asks_as_the_hold_ends_stands_and_nothing_expires(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN an authorization at its hold's end, voided by its merchant just as the reconciler
    # goes to void it
    world = World(store_class=VoidedMeanwhileStore)
    authorized = _authorized(world)
    world.clock.advance(_held_until(authorized) - world.clock.now())
    void = world.services.payment_operations.void
    assert isinstance(world.store, VoidedMeanwhileStore)
    world.store.meanwhile = lambda: void(MERCHANT, MERCHANT, authorized.payment_id, "req-2")

    # WHEN the reconciler runs
    report = world.reconcile()

    # THEN the merchant's void stands, its one job queued: no expiry is counted or logged
    voided = world.store.get(authorized.payment_id)
    assert voided is not None and voided.settlement is not None
    assert voided.settlement.void_reason is VoidReason.REQUESTED
    assert (report.requeued, report.errors) == (0, 0)
    assert [job.payment_id for job, _ in world.jobs.take()] == [authorized.payment_id]
    assert "AuthorizationsExpired" not in world.metrics.counts
    assert lines_saying(no_card_data_in_output, "authorization held too long: voiding it") == []


def test_a_capture_stuck_past_its_attempts_sends_on_call_to_the_dlq_and_is_queued_again(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN an authorized payment whose capture job is lost each time it is queued
    world = World()
    asked = _capture_asked(world)

    # WHEN the reconciler finds it stalled once more than its attempts
    reports = []
    for _ in range(world.settings.reconcile_max_attempts + 1):
        world.clock.advance(min(world.store._reconcile_at.values()) - world.clock.now())
        reports.append(world.reconcile())
        world.jobs.take()

    # THEN only the last run reports it stuck, queues it again all the same, and logs one
    # line naming the payment that sends on-call to the DLQ
    assert [(report.stuck, report.requeued) for report in reports[-2:]] == [(0, 1), (1, 1)]
    lines = lines_saying(
        no_card_data_in_output,
        "capture, void or refund stuck; queued again, less often; see the DLQ",
    )
    assert len(lines) == 1 and _has(lines[0], _line_of(asked, "Authorized"))


def test_a_failure_on_one_payment_is_logged_with_its_reason(no_card_data_in_output: Any) -> None:
    world = World(store_class=StaleIndexStore)
    broken = world.submitted()
    world.store.broken = broken.payment_id  # type: ignore[attr-defined]
    _after_threshold(world)

    assert world.reconcile().errors == 1

    lines = lines_saying(
        no_card_data_in_output, "reconciling a payment failed; going on with the others"
    )
    expected = {"paymentId": broken.payment_id, "reason": "stands for any failure on one item"}
    assert len(lines) == 1 and _has(lines[0], expected)


def test_a_payment_that_moved_on_meanwhile_is_logged_not_counted_as_an_error(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN two payments a worker writes just as the reconciler notes them
    world = World(store_class=MovingOnStore)
    payments = [world.submitted(), world.submitted()]
    world.store.moving_on = True  # type: ignore[attr-defined]
    backlog = [PaymentJob(f"other-{n}", "req") for n in range(999)]
    world.jobs.publish_many(backlog)
    _after_threshold(world)

    # WHEN the reconciler notes them waiting behind a backlog, then (the backlog gone)
    # queues their jobs again
    noted_waiting = world.reconcile()
    world.jobs.take()
    requeued_report = world.reconcile()

    # THEN neither is an error, and each time on-call reads why nothing was noted
    assert (noted_waiting.waiting, noted_waiting.errors) == (2, 0)
    assert (requeued_report.requeued, requeued_report.errors) == (2, 0)
    lines = lines_saying(no_card_data_in_output, "payment moved on while being reconciled")
    assert len(lines) == 4
    assert sorted(line["paymentId"] for line in lines) == sorted(
        2 * [payment.payment_id for payment in payments]
    )
    assert all(_has(line, {CORRELATION_KEY: "req-1", "status": "Processing"}) for line in lines)


def test_a_job_not_queued_and_a_progress_not_noted_are_two_errors(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN two lost jobs; the queue refuses the first, the table the second's progress note
    world = World(store_class=UnwritableProgressStore)
    world.submitted(), world.submitted()
    world.jobs.unavailable = 1
    _after_threshold(world)

    # WHEN the reconciler runs
    report = world.reconcile()

    # THEN both are errors (the next run tries again), each logged with what failed
    assert (report.requeued, report.errors) == (1, 2)
    assert world.metrics.counts["ReconcilerErrors"] == 2
    unqueued = lines_saying(
        no_card_data_in_output, "re-queueing a stalled payment failed; the next run tries again"
    )
    unnoted = lines_saying(no_card_data_in_output, "noting a re-queued payment failed")
    assert len(unqueued) == 1 and len(unnoted) == 1
    assert unqueued[0][CORRELATION_KEY] == "req-1"
    assert _has(unnoted[0], {CORRELATION_KEY: "req-1", "status": "Processing"})
    assert unnoted[0]["reason"] == "ConnectionError"
    assert unnoted[0]["paymentId"] != unqueued[0]["paymentId"]
    assert [job.payment_id for job, _ in world.jobs.published] == [unnoted[0]["paymentId"]]


def test_an_unreadable_queue_depth_is_logged_with_its_error_type(
    no_card_data_in_output: Any,
) -> None:
    world = World(jobs=UnreadableDepthQueue())
    world.submitted()
    _after_threshold(world)

    world.reconcile()

    lines = lines_saying(
        no_card_data_in_output, "the jobs queue's depth could not be read; taken as empty"
    )
    assert len(lines) == 1 and lines[0]["errorType"] == "ConnectionError"


def test_with_exactly_its_margin_left_a_run_still_does_its_work() -> None:
    world = World()
    world.submitted()
    _after_threshold(world)

    report = world.reconcile(seconds_left=STOP_BEFORE_SECONDS)

    assert (report.requeued, report.complete) == (1, True)


def test_a_run_stopped_for_time_reports_what_it_did_and_counts_it() -> None:
    # GIVEN two lost jobs, and a run whose time runs short after the first
    world = World()
    world.submitted(), world.submitted()
    _after_threshold(world)

    # WHEN the reconciler runs
    report = world.reconciler.run(seconds_left=_times_left(60, 60, 1))

    # THEN it queued the first, says it is not complete, and the metric counts the one
    assert (report.stalled, report.requeued, report.complete) == (1, 1, False)
    assert world.metrics.counts["PaymentsReenqueued"] == 1


def test_a_run_is_incomplete_when_any_payment_of_a_page_found_the_time_short() -> None:
    # GIVEN a page whose payments are looked at concurrently: the first look came last,
    # when the time was short, the second one earlier
    world = World()
    world.submitted(), world.submitted()
    _after_threshold(world)

    report = world.reconciler.run(seconds_left=_times_left(60, 1, 60))

    assert (report.stalled, report.requeued, report.complete) == (1, 1, False)


def test_a_run_goes_through_every_page_of_stalled_payments() -> None:
    # GIVEN more lost jobs than one page of the in-flight index holds
    world = World()
    payments = {world.submitted().payment_id for _ in range(PAGE_ITEMS + 1)}
    _after_threshold(world)

    # WHEN the reconciler runs
    report = world.reconcile()

    # THEN every one is queued again
    assert (report.stalled, report.requeued, report.complete) == (
        len(payments),
        len(payments),
        True,
    )
    assert {job.payment_id for job, _ in world.jobs.take()} == payments


def test_settling_makes_no_attempt_that_could_not_finish_in_the_run(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a payment at its bound, a bank down for one call whose calls may take 0.5 s,
    # and a run with only its stop margin left
    world = World(settings=SETTINGS.replace(bank_timeout_seconds=0.5))
    payment = world.submitted()
    world.clock.advance(world.settings.resolve_after_seconds)
    world.bank.unavailable = 1

    # WHEN the reconciler runs
    report = world.reconcile(seconds_left=STOP_BEFORE_SECONDS)

    # THEN it asked the bank once, gave up, and erased the card (logged) for a later run
    assert (report.resolved, report.errors) == (0, 1)
    assert world.bank.calls == [("void", payment.payment_id)]
    stored = world.store.get(payment.payment_id)
    assert stored is not None and stored.status.is_in_flight and stored.card_ciphertext is None
    lines = lines_saying(no_card_data_in_output, "card erased at the bound; settling later")
    assert len(lines) == 1 and lines[0]["paymentId"] == payment.payment_id


def test_payments_are_looked_at_concurrently_up_to_the_setting() -> None:
    # GIVEN two lost jobs, a concurrency of 2, and a table where each read waits for another
    world = World(settings=SETTINGS.replace(reconcile_concurrency=2), store_class=PairedReadsStore)
    world.submitted(), world.submitted()
    _after_threshold(world)
    world.store.pairs = threading.Barrier(2, timeout=5)  # type: ignore[attr-defined]

    # WHEN the reconciler runs
    report = world.reconcile()

    # THEN the two were read together (one at a time, each read would have failed)
    assert (report.requeued, report.errors) == (2, 0)


def test_a_page_is_read_by_no_more_workers_than_the_setting() -> None:
    # GIVEN four lost jobs, a concurrency of 2, and reads held until the run has handed
    # out the whole page and waits for its results
    world = World(settings=SETTINGS.replace(reconcile_concurrency=2), store_class=PairedReadsStore)
    for _ in range(4):
        world.submitted()
    _after_threshold(world)
    world.store.held = threading.Event()  # type: ignore[attr-defined]
    reports: list[ReconcileReport] = []
    run = threading.Thread(target=lambda: reports.append(world.reconcile()))

    # WHEN the reconciler runs
    run.start()
    _wait_for_results_in(run)
    world.store.held.set()  # type: ignore[attr-defined]
    run.join()

    # THEN all four were queued again, read by two workers
    assert reports[0].requeued == 4
    assert len(world.store.readers) == 2  # type: ignore[attr-defined]


def test_with_a_concurrency_of_one_payments_are_looked_at_on_the_run_thread() -> None:
    world = World(store_class=PairedReadsStore)
    world.submitted(), world.submitted()
    _after_threshold(world)

    assert world.reconcile().requeued == 2

    assert world.store.readers == {threading.get_ident()}  # type: ignore[attr-defined]


def _wait_for_results_in(thread: threading.Thread) -> None:
    """Returns once `thread` waits on a future's result: every task handed out by then."""
    for _ in range(10_000):
        frame = sys._current_frames().get(thread.ident or 0)
        while frame is not None:
            code = frame.f_code
            if code.co_name == "result" and "concurrent" in code.co_filename:
                return
            frame = frame.f_back
        time.sleep(0.001)
    raise AssertionError("the run never waited for its workers")


def _soon() -> float:
    return time.monotonic() + 30


def _authorized(world: World) -> Payment:
    """A manual-capture payment, authorized."""
    created = world.service.create_payment(MERCHANT, MERCHANT)
    command = world.command(created.payment_id, capture_method=CaptureMethod.MANUAL)
    world.service.submit_payment(MERCHANT, command, "req-1")
    world.work()
    authorized = world.store.get(created.payment_id)
    assert authorized is not None and authorized.status is PaymentStatus.AUTHORIZED
    return authorized


def _held_until(authorized: Payment) -> int:
    assert authorized.authorized_at is not None
    return authorized.authorized_at + AUTHORIZATION_HOLD_SECONDS


def _capture_asked(world: World) -> Payment:
    """An authorized payment whose capture was asked, its job taken off the queue."""
    authorized = _authorized(world)
    ops = world.services.payment_operations
    asked = ops.capture(MERCHANT, MERCHANT, authorized.payment_id, None, "r")
    world.jobs.take()
    return asked


class StaleIndexStore(InMemoryPaymentStore):
    """The in-flight index read a moment ago: it may still name payments since finished or
    gone; and one payment (`broken`) cannot be read."""

    also_listed: list[str] = []  # noqa: RUF012 (set per test, on the instance)
    broken: str = ""

    def stalled_pages(self, now: int) -> Iterator[list[StalledPayment]]:
        for page in super().stalled_pages(now):
            yield page + [StalledPayment(payment_id, now) for payment_id in self.also_listed]

    def get(self, payment_id: str) -> Payment | None:
        if payment_id == self.broken:
            raise BankUnavailableError("stands for any failure on one item")
        return super().get(payment_id)


class VoidedMeanwhileStore(InMemoryPaymentStore):
    """`meanwhile` (another writer's change) lands just before the reconciler's expiry void
    is written, once."""

    meanwhile: Callable[[], object] | None = None

    def save_transition(self, before: Payment, after: Payment) -> None:
        settlement = after.settlement
        if settlement and settlement.void_reason is VoidReason.EXPIRED and self.meanwhile:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        super().save_transition(before, after)


class MovingOnStore(InMemoryPaymentStore):
    """A worker's write lands just before each of the reconciler's notes."""

    moving_on = False

    def touch_progress(self, payment: Payment, now: int) -> None:
        if self.moving_on:
            raise ConcurrentUpdateError(payment.payment_id)
        super().touch_progress(payment, now)

    def note_waiting(self, payment: Payment, look_at: int) -> None:
        if self.moving_on:
            raise ConcurrentUpdateError(payment.payment_id)
        super().note_waiting(payment, look_at)


class UnwritableProgressStore(InMemoryPaymentStore):
    def touch_progress(self, payment: Payment, now: int) -> None:
        raise ConnectionError("the table cannot be reached")


class UnreadableDepthQueue(InMemoryJobQueue):
    def depth(self) -> QueueDepth:
        raise ConnectionError("GetQueueAttributes failed")


class PairedReadsStore(InMemoryPaymentStore):
    """Notes which threads read payments; with `pairs`, each read waits for a second one;
    with `held`, until it is set."""

    def __init__(self, policy: ReconcilePolicy) -> None:
        super().__init__(policy)
        self.pairs: threading.Barrier | None = None
        self.held: threading.Event | None = None
        self.readers: set[int] = set()

    def get(self, payment_id: str) -> Payment | None:
        self.readers.add(threading.get_ident())
        if self.pairs is not None:
            self.pairs.wait()
        if self.held is not None:
            self.held.wait(timeout=30)
        return super().get(payment_id)
