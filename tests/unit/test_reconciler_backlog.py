"""The reconciler queues again only jobs that can really be lost: a job a worker failed on
lately, or one waiting in the queue's backlog, is left to come; a lost one is still queued
again without a person. Measured through a bank outage on a virtual clock, with the queue
redelivering as SQS does."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from core.domain.jobs import PaymentJob
from core.domain.payment import PaymentStatus
from core.domain.ports import QueueDepth
from core.domain.reconcile_policy import ReconcilePolicy
from core.resources import JOBS_QUEUE, MAX_RECEIVE_COUNT, WORKER_TIMEOUT_SECONDS
from core.settings import Settings
from tests.fakes import InMemoryJobQueue, VirtualSqsQueue
from tests.support import FakeClock
from tests.unit.use_case_world import MERCHANT, SETTINGS, World

OUTAGE_SECONDS = 300
PAYMENTS = 200
# A batch holds a worker this long while the bank is down (every call times out), and
# this long once it answers.
BATCH_SECONDS_DOWN = WORKER_TIMEOUT_SECONDS
BATCH_SECONDS_UP = 1


def _fails_at_the_bank(world: World) -> None:
    """A worker receives the payment's job and fails on it (the bank is down)."""
    world.bank.unavailable = world.settings.bank_max_attempts
    with pytest.raises(Exception, match="unavailable"):
        world.work()
    assert world.bank.unavailable == 0


def test_a_job_a_worker_failed_on_lately_is_not_queued_again() -> None:
    # GIVEN a payment whose job a worker failed on just before the threshold
    world = World()
    payment = world.submitted()
    world.clock.advance(world.settings.reconcile_after_seconds - 60)
    world.jobs.publish(PaymentJob(payment.payment_id, "req-1"))
    _fails_at_the_bank(world)

    # WHEN the reconciler runs past the threshold counted from its enqueue
    world.clock.advance(61)
    report = world.reconcile()

    # THEN the job is taken as on its way (SQS delivers it again): nothing is queued
    assert (report.stalled, report.waiting, report.requeued) == (1, 1, 0)
    assert world.jobs.published == []
    assert world.reconcile().stalled == 0

    # AND once nothing was seen of it for the threshold, it is lost and queued again
    world.clock.advance(world.settings.reconcile_after_seconds - 60)
    assert world.reconcile().requeued == 1
    assert [job.payment_id for job, _ in world.jobs.take()] == [payment.payment_id]


def test_a_job_in_a_backlog_waits_for_it_and_is_queued_again_once_it_would_have_drained() -> None:
    # GIVEN a payment whose job was never received, behind a backlog of 1,000 jobs
    world = World()
    payment = world.submitted()
    backlog = [PaymentJob(f"other-{n}", "req") for n in range(999)]
    world.jobs.publish_many([PaymentJob(payment.payment_id, "req-1"), *backlog])
    policy = ReconcilePolicy.of(world.settings)
    wait = policy.backlog_wait_seconds(1000)
    assert wait > world.settings.reconcile_every_seconds

    # WHEN the reconciler runs past the threshold
    world.clock.advance(world.settings.reconcile_after_seconds + 1)
    report = world.reconcile()

    # THEN it waits for the backlog to drain: nothing queued, looked at again after it
    assert (report.waiting, report.requeued) == (1, 0)
    assert len(world.jobs.published) == 1000
    world.clock.advance(wait - 2)
    assert world.reconcile().stalled == 0

    # AND if the job was lost all along (the backlog drained without it), it is queued
    world.jobs.take()
    world.clock.advance(2)
    report = world.reconcile()
    assert (report.waiting, report.requeued) == (0, 1)
    assert [job.payment_id for job, _ in world.jobs.take()] == [payment.payment_id]


class UnreadableDepthQueue(InMemoryJobQueue):
    def depth(self) -> QueueDepth:
        raise ConnectionError("GetQueueAttributes failed")


def test_when_the_queue_depth_cannot_be_read_a_stalled_job_is_queued_again() -> None:
    world = World(jobs=UnreadableDepthQueue())
    payment = world.submitted()
    world.clock.advance(world.settings.reconcile_after_seconds + 1)

    report = world.reconcile()

    assert (report.requeued, report.errors) == (1, 0)
    assert [job.payment_id for job, _ in world.jobs.take()] == [payment.payment_id]


@dataclass
class _Worker:
    """One worker instance on the virtual clock: takes a batch, holds it for as long as
    the bank makes it, then deletes what succeeded and fails the rest back to SQS."""

    busy_until: float = 0.0
    batch: list[tuple[int, PaymentJob, int]] = field(default_factory=list)


def _through_an_outage(settings: Settings) -> tuple[World, VirtualSqsQueue, list[str]]:
    """200 payments submitted as the bank goes down for 5 minutes; the workers take their
    jobs as SQS delivers them, the reconciler runs on its schedule, until every payment is
    final (or the resolution bound has passed)."""
    clock = FakeClock()
    queue = VirtualSqsQueue(
        clock.now,
        visibility_seconds=JOBS_QUEUE.visibility_timeout_seconds,
        max_receives=MAX_RECEIVE_COUNT,
    )
    world = World(settings=settings, clock=clock, queue=queue)
    start = clock.now()
    payment_ids = []
    for _ in range(PAYMENTS):
        created = world.service.create_payment(MERCHANT, MERCHANT)
        world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-1")
        payment_ids.append(created.payment_id)
    workers = [_Worker() for _ in range(settings.worker_instances)]
    next_run = start + settings.reconcile_every_seconds
    bound = start + settings.resolve_after_seconds + settings.reconcile_every_seconds
    while clock.now() < bound and not _all_final(world, payment_ids):
        down = clock.now() - start < OUTAGE_SECONDS
        for worker in workers:
            _step(world, queue, worker, down)
        if clock.now() >= next_run:
            next_run += settings.reconcile_every_seconds
            world.reconcile()
        clock.advance(1)
    return world, queue, payment_ids


def _step(world: World, queue: VirtualSqsQueue, worker: _Worker, down: bool) -> None:
    now = world.clock.now()
    if worker.busy_until > now:
        return
    world.bank.unavailable = 10**9 if down else 0
    for handle, job, _ in worker.batch:
        try:
            world.processor.process(job, deadline=time.monotonic() + WORKER_TIMEOUT_SECONDS)
        except Exception:
            queue.fail(handle)
        else:
            queue.delete(handle)
    worker.batch = queue.receive(world.settings.worker_concurrency)
    worker.busy_until = now + (BATCH_SECONDS_DOWN if down else BATCH_SECONDS_UP)


def _all_final(world: World, payment_ids: list[str]) -> bool:
    return all(
        (payment := world.store.get(p)) is not None and payment.status.is_final for p in payment_ids
    )


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(SETTINGS, id="defaults"),
        # A threshold no longer than the outage: the old rule queued every job again.
        pytest.param(SETTINGS.replace(reconcile_after_seconds=300), id="threshold-300s"),
    ],
)
def test_a_five_minute_bank_outage_queues_at_most_1_1_jobs_per_payment(
    settings: Settings,
) -> None:
    # GIVEN 200 payments submitted as the bank goes down for 5 minutes, one worker instance
    # WHEN the workers and the reconciler (every 5 minutes) go on until all are final
    world, queue, payment_ids = _through_an_outage(settings)

    # THEN every payment was accepted (by the bank too), none dead-lettered, and at most
    # 1.1 jobs a payment were ever queued
    statuses = {world.store.get(p).status for p in payment_ids}  # type: ignore[union-attr]
    assert statuses == {PaymentStatus.ACCEPTED}
    assert {p: world.bank.ledger[p].status for p in payment_ids} == dict.fromkeys(
        payment_ids, PaymentStatus.ACCEPTED
    )
    assert queue.dead_letters == []
    assert queue.sent / PAYMENTS <= 1.1, f"{queue.sent / PAYMENTS} jobs per payment"
