"""create, submit and read a payment: the merchant-facing use cases on in-memory fakes."""

from __future__ import annotations

import pytest

from core.domain.errors import (
    MerchantMismatchError,
    PaymentConflictError,
    PaymentNotFoundError,
    QueueUnavailableError,
)
from core.domain.jobs import PaymentJob
from core.domain.payment import PaymentStatus
from core.use_cases.payment_listing import ListPayments
from tests.unit.use_case_world import CARD, MERCHANT, OTHER_MERCHANT, World


def test_a_created_payment_expires_after_its_ttl_and_is_then_gone() -> None:
    world = World()
    payment = world.service.create_payment(MERCHANT, MERCHANT)

    assert payment.status is PaymentStatus.CREATED
    assert payment.expires_at == payment.created_at + world.settings.payment_ttl_seconds
    assert world.service.get_payment(MERCHANT, MERCHANT, payment.payment_id) == payment
    world.clock.advance(world.settings.payment_ttl_seconds)
    with pytest.raises(PaymentNotFoundError):
        world.service.get_payment(MERCHANT, MERCHANT, payment.payment_id)
    with pytest.raises(PaymentNotFoundError):
        world.service.submit_payment(MERCHANT, world.command(payment.payment_id), "req-1")
    assert world.jobs.published == []


def test_a_claimed_id_gives_the_same_payment_again_and_lives_again_once_expired() -> None:
    world = World()
    first = world.service.create_payment(MERCHANT, MERCHANT, claim_id="claim-1")

    assert world.service.create_payment(MERCHANT, MERCHANT, claim_id="claim-1") == first
    world.clock.advance(world.settings.payment_ttl_seconds + 1)
    renewed = world.service.create_payment(MERCHANT, MERCHANT, claim_id="claim-1")
    assert renewed.payment_id == first.payment_id
    assert renewed.created_at > first.created_at
    assert world.service.get_payment(MERCHANT, MERCHANT, first.payment_id) == renewed


def test_a_merchant_acts_only_on_its_own_payments_and_a_refusal_writes_nothing() -> None:
    world = World()
    payment = world.service.create_payment(MERCHANT, MERCHANT)
    writes = world.store.writes

    with pytest.raises(MerchantMismatchError):
        world.service.create_payment(OTHER_MERCHANT, MERCHANT)
    with pytest.raises(PaymentNotFoundError):
        world.service.get_payment(OTHER_MERCHANT, OTHER_MERCHANT, payment.payment_id)
    theirs = world.command(payment.payment_id, merchant_id=OTHER_MERCHANT)
    with pytest.raises(PaymentNotFoundError):
        world.service.submit_payment(OTHER_MERCHANT, theirs, "req-1")
    assert world.store.writes == writes
    assert world.jobs.published == []


def test_submitting_encrypts_the_card_bound_to_the_payment_and_queues_one_job() -> None:
    world = World()
    created = world.service.create_payment(MERCHANT, MERCHANT)

    payment = world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-7")

    assert (payment.status, payment.version, payment.correlation_id) == (
        PaymentStatus.PROCESSING,
        2,
        "req-7",
    )
    assert payment.card_ciphertext is not None
    assert CARD.pan.encode() not in payment.card_ciphertext
    assert (
        world.vault.decrypt(
            payment.card_ciphertext, payment_id=payment.payment_id, merchant_id=MERCHANT
        )
        == CARD
    )
    assert payment.details is not None
    assert payment.details.masked_card_number.endswith("4242")
    assert [(job.payment_id, job.correlation_id, delay) for job, delay in world.jobs.published] == [
        (payment.payment_id, "req-7", 0)
    ]


def test_a_repeat_answers_the_same_and_queues_nothing_while_any_change_is_a_conflict() -> None:
    world = World()
    created = world.service.create_payment(MERCHANT, MERCHANT)
    first = world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-1")
    world.jobs.take()

    assert (
        world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-2") == first
    )
    assert world.jobs.published == []
    for change in ({"amount": 1251}, {"card": CARD.__class__(pan=CARD.pan, cvv="124")}):
        with pytest.raises(PaymentConflictError):
            world.service.submit_payment(
                MERCHANT, world.command(created.payment_id, **change), "req-3"
            )
    assert world.store.get(created.payment_id) == first


def test_a_job_that_could_not_be_queued_is_queued_by_the_merchants_retry() -> None:
    world = World()
    created = world.service.create_payment(MERCHANT, MERCHANT)
    world.jobs.unavailable = 1

    with pytest.raises(QueueUnavailableError):
        world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-1")
    marked = world.store.get(created.payment_id)
    assert marked is not None
    assert (marked.status, marked.enqueue_failed) == (PaymentStatus.PROCESSING, True)

    retried = world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-2")
    assert retried.status is PaymentStatus.PROCESSING
    assert [job.payment_id for job, _ in world.jobs.take()] == [created.payment_id]
    cleared = world.store.get(created.payment_id)
    assert cleared is not None and cleared.enqueue_failed is False
    world.service.submit_payment(MERCHANT, world.command(created.payment_id), "req-3")
    assert world.jobs.published == []


def test_the_use_cases_run_on_the_fakes_alone_without_building_an_aws_client() -> None:
    world = World()
    payment = world.submitted()
    world.jobs.published.append((PaymentJob(payment.payment_id, "req-1"), 0))
    world.work()
    world.listing.list_payments(MERCHANT, ListPayments(MERCHANT))
    world.clock.advance(world.settings.resolve_after_seconds)
    world.reconcile()

    assert world.aws_clients_built() == []
