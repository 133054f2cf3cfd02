"""The reconciler's use case on in-memory fakes: what it does with each stalled payment,
when, and that one failure never stops the run."""

from __future__ import annotations

from core.domain.errors import BankUnavailableError
from core.domain.payment import Payment, PaymentStatus
from tests.fakes import InMemoryPaymentStore
from tests.unit.use_case_world import World


def _after_threshold(world: World) -> None:
    world.clock.advance(world.settings.reconcile_after_seconds + 1)


def test_a_payment_whose_job_was_lost_is_queued_again_once_per_threshold() -> None:
    world = World()
    payment = world.submitted()

    assert world.reconcile().stalled == 0
    _after_threshold(world)
    report = world.reconcile()
    assert (report.stalled, report.requeued) == (1, 1)
    assert [job.payment_id for job, _ in world.jobs.take()] == [payment.payment_id]
    assert world.reconcile().stalled == 0

    assert [r.status for r in world.work()] == []
    _after_threshold(world)
    world.reconcile()
    assert [r.status for r in world.work()] == [PaymentStatus.ACCEPTED]
    _after_threshold(world)
    assert world.reconcile().stalled == 0


def test_after_its_attempts_a_payment_is_reported_stuck_and_not_queued_again() -> None:
    world = World()
    world.submitted()

    for _ in range(world.settings.reconcile_max_attempts):
        _after_threshold(world)
        assert world.reconcile().requeued == 1
        world.jobs.take()  # each one dead-lettered: none left in the queue
    _after_threshold(world)
    report = world.reconcile()

    assert (report.stuck, report.requeued) == (1, 0)
    assert world.jobs.published == []
    assert world.metrics.counts["PaymentsStuck"] == 1


def test_at_its_bound_a_stalled_payment_is_settled_or_its_card_erased_if_the_bank_is_down() -> None:
    world = World()
    settled, down = world.submitted(), world.submitted()
    world.clock.advance(world.settings.resolve_after_seconds)
    world.bank.unavailable = 1 + world.settings.bank_max_attempts  # the first one, then down

    report = world.reconcile()

    assert (report.resolved, report.errors) == (1, 1)
    statuses = {p: world.store.get(p) for p in (settled.payment_id, down.payment_id)}
    finished = [p for p in statuses.values() if p is not None and p.status.is_final]
    waiting = [p for p in statuses.values() if p is not None and p.status.is_in_flight]
    assert [p.status for p in finished] == [PaymentStatus.FAILED]
    assert len(waiting) == 1 and waiting[0].card_ciphertext is None
    assert all(p.card_ciphertext is None for p in statuses.values() if p is not None)


class OneBrokenItemStore(InMemoryPaymentStore):
    broken: str = ""

    def get(self, payment_id: str) -> Payment | None:
        if payment_id == self.broken:
            raise BankUnavailableError("stands for any failure on one item")
        return super().get(payment_id)


def test_one_payment_that_fails_never_stops_the_run_for_the_others() -> None:
    world = World(store_class=OneBrokenItemStore)
    payments = [world.submitted() for _ in range(3)]
    world.store.broken = payments[1].payment_id  # type: ignore[attr-defined]
    _after_threshold(world)

    report = world.reconcile()

    assert (report.stalled, report.requeued, report.errors) == (3, 2, 1)
    assert world.metrics.counts["ReconcilerErrors"] == 1


def test_a_run_short_of_time_stops_and_leaves_the_rest_to_the_next() -> None:
    world = World()
    world.submitted()
    _after_threshold(world)

    report = world.reconcile(seconds_left=1)

    assert (report.stalled, report.complete) == (0, False)
    assert world.jobs.published == []
    assert world.reconcile().requeued == 1
