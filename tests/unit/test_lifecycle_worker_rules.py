"""What the worker does with a payment's capture, void and refunds, as on-call and merchants
see it (core/use_cases/payment_processor.py `_move_money`): the job's result, the bank calls
with their own keys, the log lines and metrics, the time each change is stamped, retries of
a bank that fails once, and a refund another worker answered first."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.domain.errors import BankUnavailableError
from core.domain.jobs import PaymentJob
from core.domain.payment import CaptureMethod, Payment, PaymentStatus
from core.use_cases.payment_processor import JobResult, ProcessedJob
from tests.fakes import InMemoryPaymentStore
from tests.unit.lifecycle_world import operations, paid, stored
from tests.unit.log_lines import lines_saying
from tests.unit.use_case_world import MERCHANT, World


def _job(payment: Payment) -> PaymentJob:
    return PaymentJob(payment.payment_id, "req-9")


def _process(world: World, payment: Payment) -> ProcessedJob:
    return world.processor.process(_job(payment), deadline=time.monotonic() + 30)


def test_a_capture_answers_its_payment_logs_counts_and_stamps_the_time(
    no_card_data_in_output: Any,
) -> None:
    world = World()
    authorized = paid(world, 1250, CaptureMethod.MANUAL)
    operations(world).capture(MERCHANT, MERCHANT, authorized.payment_id, 700, "req-2")
    world.jobs.take()
    world.clock.advance(42)

    result = _process(world, authorized)

    assert result == ProcessedJob(authorized.payment_id, JobResult.RECORDED, PaymentStatus.ACCEPTED)
    assert ("capture", f"{authorized.payment_id}:capture") in world.bank.calls
    assert ("capture", authorized.payment_id, 700) in world.bank.moved
    assert stored(world, authorized).updated_at == int(world.clock.now())
    (line,) = lines_saying(no_card_data_in_output, "authorization settled")
    assert (line["paymentId"], line["status"]) == (authorized.payment_id, "Accepted")
    assert world.metrics.counts["PaymentsAccepted"] == 1


def test_a_void_is_asked_for_its_payment_by_its_own_key_and_counted() -> None:
    world = World()
    authorized = paid(world, 1250, CaptureMethod.MANUAL)
    operations(world).void(MERCHANT, MERCHANT, authorized.payment_id, "req-2")
    world.jobs.take()
    world.bank.unavailable = 1  # asked again

    _process(world, authorized)

    assert ("void", authorized.payment_id, 0) in world.bank.moved
    assert ("void", f"{authorized.payment_id}:void") in world.bank.calls
    assert world.metrics.counts["PaymentsVoided"] == 1


def test_a_bank_that_fails_once_is_asked_again_for_a_capture_and_a_refund() -> None:
    world = World()
    authorized = paid(world, 1250, CaptureMethod.MANUAL)
    operations(world).capture(MERCHANT, MERCHANT, authorized.payment_id, None, "req-2")
    world.jobs.take()
    world.bank.unavailable = 1
    _process(world, authorized)
    assert stored(world, authorized).status is PaymentStatus.ACCEPTED

    operations(world).refund(MERCHANT, MERCHANT, authorized.payment_id, 100, None, "r")
    world.jobs.take()
    world.bank.unavailable = 1
    _process(world, authorized)
    assert stored(world, authorized).refunded_amount == 100
    assert world.metrics.counts["BankRetries"] == 2


def test_each_refund_answered_is_logged_and_counted_by_its_outcome(
    no_card_data_in_output: Any,
) -> None:
    world = World()
    accepted = paid(world, 1000)
    _, declined = operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 3, None, "r")
    _, given = operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 10, None, "r")
    world.jobs.take()

    result = _process(world, accepted)

    assert result == ProcessedJob(accepted.payment_id, JobResult.RECORDED, PaymentStatus.ACCEPTED)
    lines = lines_saying(no_card_data_in_output, "refund answered")
    assert [(line["refundId"], line["status"]) for line in lines] == [
        (declined.refund_id, "Failed"),
        (given.refund_id, "Succeeded"),
    ]
    assert (world.metrics.counts["RefundsFailed"], world.metrics.counts["RefundsSucceeded"]) == (
        1,
        1,
    )


class NoteFailsOnce(InMemoryPaymentStore):
    """The failure note's first write is throttled (it is tried again)."""

    failed_notes = 0

    def note_failure(self, payment: Payment, reason: str, now: int) -> None:
        if not self.failed_notes:
            self.failed_notes += 1
            raise BankUnavailableError("throttled")
        super().note_failure(payment, reason, now)


def test_a_refund_the_bank_does_not_answer_is_logged_noted_and_fails_the_job(
    no_card_data_in_output: Any,
) -> None:
    world = World(store_class=NoteFailsOnce)
    accepted = paid(world, 5000)
    _, lost = operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 504, None, "r")
    world.jobs.take()
    world.bank.never_answers = {504}

    with pytest.raises(BankUnavailableError):
        _process(world, accepted)

    (line,) = lines_saying(no_card_data_in_output, "refund not answered; the others go on")
    assert line["refundId"] == lost.refund_id
    assert line["reason"] == "the bank did not answer the refund"
    failure = stored(world, accepted).failure
    assert failure is not None and failure.reason == "the bank did not answer the refund"


class AnsweredMeanwhile(InMemoryPaymentStore):
    """Another worker records the refund's answer (and the capture's) just before this
    one writes: its first write loses the race, and the payment it reads again holds the
    answer already."""

    rival: Any = None

    def save_transition(self, before: Payment, after: Payment) -> None:
        rival, self.rival = self.rival, None
        if rival is not None:
            super().save_transition(before, rival(before))
        super().save_transition(before, after)


@pytest.mark.parametrize("operation", ["capture", "refund"])
def test_an_answer_another_worker_recorded_first_is_not_recorded_again(operation: str) -> None:
    world = World(store_class=AnsweredMeanwhile)
    method = CaptureMethod.MANUAL if operation == "capture" else CaptureMethod.AUTOMATIC
    payment = paid(world, 1000, method)
    if operation == "capture":
        operations(world).capture(MERCHANT, MERCHANT, payment.payment_id, None, "r")
        now = int(world.clock.now())
        world.store.rival = lambda p: p.with_settlement_done(now)  # type: ignore[attr-defined]
    else:
        _, refund = operations(world).refund(MERCHANT, MERCHANT, payment.payment_id, 5, None, "r")
        world.store.rival = lambda p: p.with_refund_outcome(  # type: ignore[attr-defined]
            refund.refund_id,
            world.bank.refund(p.payment_id, 5, idempotency_key=refund.refund_id),
            int(world.clock.now()),
        )
    world.jobs.take()
    before = stored(world, payment).version

    _process(world, payment)

    # One write, the rival's: the worker's own was decided again and found nothing to do
    assert stored(world, payment).version == before + 1
    assert not stored(world, payment).has_work_in_flight


class NotesFail(InMemoryPaymentStore):
    def note_failure(self, payment: Payment, reason: str, now: int) -> None:
        raise BankUnavailableError("throttled")


def test_a_refunds_failure_that_cannot_be_noted_is_logged_with_its_payment(
    no_card_data_in_output: Any,
) -> None:
    world = World(store_class=NotesFail)
    accepted = paid(world, 5000)
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 504, None, "r")
    world.jobs.take()
    world.bank.never_answers = {504}

    with pytest.raises(BankUnavailableError):
        _process(world, accepted)

    (line,) = lines_saying(no_card_data_in_output, "failure not noted")
    assert line["paymentId"] == accepted.payment_id
