"""The worker's use case on in-memory fakes: bank retries against the deadline, Pending
back-off, lost races, settling at the bound, poison jobs."""

from __future__ import annotations

import time
import uuid

import pytest

from core.domain.errors import BankUnavailableError
from core.domain.jobs import PaymentJob
from core.domain.payment import PROCESSING_FAILED, BankOutcome, PaymentStatus
from core.domain.polling import recheck_delay_seconds
from core.domain.ports import AuthorizationRequest
from core.use_cases.payment_processor import JobResult, PoisonJobError
from tests.fakes import FakeBank, InMemoryPaymentStore
from tests.unit.use_case_world import World

PENDING = BankOutcome(PaymentStatus.PENDING)
DECLINED = BankOutcome(PaymentStatus.DECLINED, "card_declined", "declined by the issuer")


def test_an_accepted_payment_is_recorded_once_and_its_card_erased() -> None:
    world = World()
    payment = world.submitted()
    job = PaymentJob(payment.payment_id, "req-1")
    deadline = time.monotonic() + 30

    first = world.processor.process(job, deadline=deadline)
    again = world.processor.process(job, deadline=deadline)

    assert (first.result, first.status) == (JobResult.RECORDED, PaymentStatus.ACCEPTED)
    assert (again.result, again.status) == (JobResult.DUPLICATE, PaymentStatus.ACCEPTED)
    stored = world.store.get(payment.payment_id)
    assert stored is not None
    assert (stored.version, stored.card_ciphertext, stored.bank_checks) == (3, None, 1)
    assert world.bank.authorizations(payment.payment_id) == 1
    assert world.metrics.counts["PaymentsAccepted"] == 1
    assert world.metrics.counts["DuplicateJobs"] == 1


def test_a_passing_bank_outage_is_retried_and_a_lasting_one_is_noted_and_raised() -> None:
    world = World()
    passing, lasting = world.submitted(), world.submitted()
    world.bank.unavailable = world.settings.bank_max_attempts - 1

    assert (
        world.processor.process(
            PaymentJob(passing.payment_id, "r"), deadline=time.monotonic() + 30
        ).status
        is PaymentStatus.ACCEPTED
    )
    assert world.metrics.counts["BankRetries"] == world.settings.bank_max_attempts - 1

    world.bank.unavailable = world.settings.bank_max_attempts
    world.clock.advance(7)
    with pytest.raises(BankUnavailableError):
        world.processor.process(PaymentJob(lasting.payment_id, "r"), deadline=time.monotonic() + 30)
    noted = world.store.get(lasting.payment_id)
    assert noted is not None and noted.failure is not None
    assert (noted.status, noted.failure.count) == (PaymentStatus.PROCESSING, 1)
    assert "unavailable" in noted.failure.reason
    assert noted.card_ciphertext is not None


def test_no_bank_attempt_starts_that_could_not_finish_before_the_deadline() -> None:
    world = World()
    payment = world.submitted()
    world.bank.unavailable = 10
    # Less time left than one bank call may take: the first attempt, and no retry.
    deadline = time.monotonic() + world.settings.bank_timeout_seconds / 2

    with pytest.raises(BankUnavailableError):
        world.processor.process(PaymentJob(payment.payment_id, "r"), deadline=deadline)
    assert world.bank.calls == [("authorize", payment.payment_id)]


def test_pending_is_checked_again_with_a_growing_capped_delay_and_no_card() -> None:
    world = World(bank=FakeBank(answers={24: PENDING}))
    payment = world.submitted(amount=24)
    world.jobs.published.append((PaymentJob(payment.payment_id, "req-1"), 0))
    base, cap = world.settings.recheck_base_seconds, world.settings.recheck_cap_seconds

    delays = []
    for _ in range(9):
        assert [r.status for r in world.work()] == [PaymentStatus.PENDING]
        delays.append(world.jobs.published[-1][1])
    stored = world.store.get(payment.payment_id)
    assert stored is not None and stored.card_ciphertext is None
    assert delays[:3] == [base, 2 * base, 4 * base]
    assert max(delays) == cap
    assert world.bank.authorizations(payment.payment_id) == 1
    assert world.vault.decrypted == 1

    world.bank.pending_becomes = DECLINED
    assert [r.status for r in world.work()] == [PaymentStatus.DECLINED]
    assert world.jobs.published == []
    assert recheck_delay_seconds(50, base, cap) == cap


class RacedBank(FakeBank):
    """While the bank answers, another worker records a decline for the same payment."""

    store: InMemoryPaymentStore

    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        outcome = super().authorize(request, idempotency_key=idempotency_key)
        stored = self.store.get(request.payment_id)
        assert stored is not None
        self.store.save_transition(stored, stored.with_outcome(DECLINED, 1))
        return outcome


def test_a_lost_race_leaves_the_other_writers_result_and_queues_nothing() -> None:
    world = World(bank=RacedBank())
    world.bank.store = world.store  # type: ignore[attr-defined]
    payment = world.submitted()

    result = world.processor.process(
        PaymentJob(payment.payment_id, "r"), deadline=time.monotonic() + 30
    )

    assert (result.result, result.status) == (JobResult.LOST_RACE, PaymentStatus.DECLINED)
    stored = world.store.get(payment.payment_id)
    assert stored is not None and (stored.status, stored.version) == (PaymentStatus.DECLINED, 3)
    assert world.jobs.published == []
    assert world.metrics.counts["LostRaces"] == 1


def test_at_its_bound_a_payment_is_settled_with_the_bank_never_authorized_after() -> None:
    world = World()
    payment = world.submitted()
    world.clock.advance(world.settings.resolve_after_seconds)

    result = world.processor.process(
        PaymentJob(payment.payment_id, "r"), deadline=time.monotonic() + 30
    )

    assert result.status is PaymentStatus.FAILED
    stored = world.store.get(payment.payment_id)
    assert stored is not None
    assert (stored.fail_code, stored.card_ciphertext) == (PROCESSING_FAILED.fail_code, None)
    assert world.bank.calls == [("void", payment.payment_id)]
    assert world.vault.decrypted == 0


def test_a_job_for_no_payment_or_a_payment_not_in_flight_is_poison() -> None:
    world = World()
    created = world.service.create_payment("m-1", "m-1")

    for payment_id in (str(uuid.uuid4()), created.payment_id):
        with pytest.raises(PoisonJobError):
            world.processor.process(PaymentJob(payment_id, "r"), deadline=time.monotonic() + 30)
    assert world.bank.calls == []
