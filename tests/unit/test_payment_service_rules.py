"""The merchant-facing rules at their edges: ids derived from an Idempotency-Key's claim,
answers lost on the way back, notes about the enqueue that cannot be written, a repeat that
finds something unexpected, and when get-payment tells the merchant to poll again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.domain.errors import (
    ConcurrentUpdateError,
    PaymentConflictError,
    PaymentExistsError,
    PaymentNotFoundError,
    QueueUnavailableError,
    TransitionRejectedError,
)
from core.domain.payment import Payment, PaymentStatus
from tests.fakes import InMemoryPaymentStore
from tests.unit.log_lines import lines_saying
from tests.unit.use_case_world import MERCHANT, OTHER_MERCHANT, SETTINGS, World


def test_a_claimed_payment_id_is_the_same_in_every_version_of_the_service() -> None:
    # A retry after a deploy must find the payment its first try created: a known answer.
    world = World()

    payment = world.service.create_payment(MERCHANT, MERCHANT, claim_id="m-1:key-1")

    assert payment.payment_id == "e1749206-7171-5213-8e52-bd52e585f8d5"
    assert (payment.merchant_id, payment.status, payment.version) == (
        MERCHANT,
        PaymentStatus.CREATED,
        1,
    )
    assert payment.created_at == payment.updated_at == int(world.clock.now())


def test_another_merchants_payment_under_the_same_claim_is_never_answered() -> None:
    world = World()
    world.service.create_payment(MERCHANT, MERCHANT, claim_id="shared-claim")

    with pytest.raises(PaymentExistsError):
        world.service.create_payment(OTHER_MERCHANT, OTHER_MERCHANT, claim_id="shared-claim")


def test_a_create_whose_answer_was_lost_answers_the_payment_it_wrote() -> None:
    # GIVEN a table that writes the payment but whose answer is lost (a retry sees it exist)
    world = World(store_class=LostAnswerStore)

    # WHEN the merchant creates a payment
    payment = world.service.create_payment(MERCHANT, MERCHANT)

    # THEN the answer is that payment, written once
    assert world.store.get(payment.payment_id) == payment
    assert payment.status is PaymentStatus.CREATED


def test_a_claimed_payment_gone_before_it_could_be_read_again_is_an_error_not_a_new_one() -> None:
    world = World(store_class=LostAnswerStore)
    world.store.vanishes = True  # type: ignore[attr-defined]

    with pytest.raises(PaymentExistsError):
        world.service.create_payment(MERCHANT, MERCHANT, claim_id="claim-1")


def test_an_enqueue_note_lost_to_a_race_or_a_failure_still_answers_the_queue_error(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a queue down, and a table that refuses the note that says so (a race, then
    # a failure)
    world = World(store_class=UnnotedStore)
    world.jobs.unavailable = 2
    raced, failed = (world.service.create_payment(MERCHANT, MERCHANT) for _ in range(2))

    # WHEN the merchant submits each THEN each answer is the queue's error (a 503)
    world.store.refusal = ConcurrentUpdateError("raced")  # type: ignore[attr-defined]
    with pytest.raises(QueueUnavailableError):
        world.service.submit_payment(MERCHANT, world.command(raced.payment_id), "req-1")
    world.store.refusal = ConnectionError("throttled")  # type: ignore[attr-defined]
    with pytest.raises(QueueUnavailableError):
        world.service.submit_payment(MERCHANT, world.command(failed.payment_id), "req-1")

    # AND only the failure is logged, by its type (never its message)
    lines = lines_saying(no_card_data_in_output, "could not note the enqueue")
    assert [line["errorType"] for line in lines] == ["ConnectionError"]
    # AND each note was tried on the payment submitted
    assert world.store.noted == [raced.payment_id, failed.payment_id]  # type: ignore[attr-defined]


def test_a_retry_that_queues_the_job_notes_it_on_the_payment() -> None:
    world = World(store_class=UnnotedStore)
    created = world.service.create_payment(MERCHANT, MERCHANT)
    world.jobs.unavailable = 1
    with pytest.raises(QueueUnavailableError):
        world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-1")

    world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-2")

    assert world.store.noted == [created.payment_id, created.payment_id]  # type: ignore[attr-defined]
    assert [(job.payment_id, job.correlation_id) for job, _ in world.jobs.take()] == [
        (created.payment_id, "req-2")
    ]


def test_a_repeat_that_finds_a_payment_created_but_refused_is_not_found() -> None:
    # GIVEN a payment that expired between the table's check and ours (still Created)
    world = World(store_class=RefusingStore)
    created = world.service.create_payment(MERCHANT, MERCHANT)

    # WHEN its card is submitted THEN it is not found, and nothing is queued
    with pytest.raises(PaymentNotFoundError) as raised:
        world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-1")
    assert str(raised.value) == f"payment {created.payment_id} was not found"
    assert world.jobs.published == []


def test_a_repeat_for_an_unknown_payment_is_not_found_by_its_id() -> None:
    world = World()

    with pytest.raises(PaymentNotFoundError) as raised:
        world.service.submit_payment(MERCHANT, world.command("no-such-payment"), "req-1")

    assert str(raised.value) == "payment no-such-payment was not found"


def test_a_repeat_of_another_merchants_payment_is_not_found() -> None:
    world = World()
    theirs = world.service.create_payment(OTHER_MERCHANT, OTHER_MERCHANT)
    world.service.submit_payment(
        OTHER_MERCHANT, world.command(theirs.payment_id, merchant_id=OTHER_MERCHANT), "req-1"
    )

    with pytest.raises(PaymentNotFoundError):
        world.service.submit_payment(MERCHANT, world.command(theirs.payment_id), "req-2")


def test_a_changed_repeat_says_the_payment_was_submitted_with_other_details() -> None:
    world = World()
    created = world.service.create_payment(MERCHANT, MERCHANT)
    world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-1")

    with pytest.raises(PaymentConflictError) as raised:
        world.service.submit_payment(
            MERCHANT, world.command(created.payment_id, amount=1251), "req-2"
        )

    assert str(raised.value) == (
        f"payment {created.payment_id} was already submitted with different details"
    )


def test_a_payment_in_flight_without_its_details_is_a_conflict_not_a_crash() -> None:
    world = World()
    created = world.service.create_payment(MERCHANT, MERCHANT)
    world.store.save_transition(
        created, replace(created, status=PaymentStatus.PROCESSING, version=2, expires_at=None)
    )

    with pytest.raises(PaymentConflictError):
        world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-1")


def test_a_pending_payment_is_polled_again_at_its_next_recheck() -> None:
    # GIVEN re-checks from 10 s doubling, capped at 30 s, and a payment Pending for its 3rd
    world = World(settings=SETTINGS.replace(recheck_base_seconds=10, recheck_cap_seconds=30))
    payment = world.submitted()
    now = int(world.clock.now())
    pending = replace(payment, status=PaymentStatus.PENDING, bank_checks=3, updated_at=now)

    # WHEN the merchant polls 5 s later THEN the next answer can come in 25 s (cap 30)
    world.clock.advance(5)
    assert world.service.poll_after_seconds(pending) == 25


class LostAnswerStore(InMemoryPaymentStore):
    """A write whose answer is lost: it lands, yet reports the payment as existing; with
    `vanishes`, the payment is gone again before it can be read."""

    vanishes = False

    def add(self, payment: Payment) -> None:
        if not self.vanishes:
            super().add(payment)
        raise PaymentExistsError(payment.payment_id)


class UnnotedStore(InMemoryPaymentStore):
    """Notes about the enqueue are recorded by payment id; `refusal` makes each one fail."""

    refusal: Exception | None = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.noted: list[str] = []

    def note_enqueue_failed(self, payment: Payment) -> None:
        self._note(payment)
        super().note_enqueue_failed(payment)

    def note_enqueued(self, payment: Payment) -> None:
        self._note(payment)
        super().note_enqueued(payment)

    def _note(self, payment: Payment) -> None:
        self.noted.append(payment.payment_id)
        if self.refusal is not None:
            raise self.refusal


class RefusingStore(InMemoryPaymentStore):
    """make-payment's conditional write is refused while the payment still reads Created."""

    def mark_processing(self, *, payment_id: str, **kwargs: Any) -> Payment:
        raise TransitionRejectedError(self.get(payment_id))
