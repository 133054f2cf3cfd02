from __future__ import annotations

import uuid
from typing import Any

import pytest

from core.domain.cards import CardSecret
from core.domain.jobs import PaymentJob
from core.domain.payment import PROCESSING_FAILED, PaymentStatus
from core.domain.ports import AuthorizationRequest
from tests.contract.conftest import QueueUnderTest

CARD = CardSecret(pan="4242424242424242", cvv="123")


def test_the_vault_gives_the_card_back_only_to_its_payment_and_merchant(vault: Any) -> None:
    ciphertext = vault.encrypt(CARD, payment_id="p-1", merchant_id="m-1")

    assert b"4242424242424242" not in ciphertext
    assert vault.decrypt(ciphertext, payment_id="p-1", merchant_id="m-1") == CARD
    for payment_id, merchant_id in (("p-2", "m-1"), ("p-1", "m-2")):
        with pytest.raises(Exception):  # noqa: B017 (KMS and the fake raise their own kind)
            vault.decrypt(ciphertext, payment_id=payment_id, merchant_id=merchant_id)


def test_a_key_pair_is_made_once_per_epoch(keyring: Any) -> None:
    assert not keyring.has("2027-01-15")

    assert keyring.create("2027-01-15", expires_at=1_801_382_400) is True
    assert keyring.create("2027-01-15", expires_at=1_801_382_400) is False

    assert keyring.has("2027-01-15")
    assert not keyring.has("2027-01-16")


def test_a_mac_verifies_only_its_own_message(mac: Any) -> None:
    signed = mac.sign(b"message")

    assert mac.sign(b"message") == signed
    assert mac.verify(b"message", signed)
    assert not mac.verify(b"messagE", signed)
    assert not mac.verify(b"message", mac.sign(b"other"))


def test_published_jobs_reach_the_queue(queue: QueueUnderTest) -> None:
    jobs = [PaymentJob(str(uuid.uuid4()), "req-1"), PaymentJob(str(uuid.uuid4()), "reconciler")]
    for job in jobs:
        queue.publisher.publish(job)

    assert {job for job, _ in queue.received()} == set(jobs)


def test_many_jobs_are_published_together_and_all_reach_the_queue(queue: QueueUnderTest) -> None:
    jobs = [PaymentJob(str(uuid.uuid4()), "reconciler") for _ in range(23)]

    unqueued = queue.publisher.publish_many(jobs)

    received: set[PaymentJob] = set()
    while batch := queue.received():
        received |= {job for job, _ in batch}
    assert (unqueued, received) == ([], set(jobs))


def _request(amount: int = 1250) -> AuthorizationRequest:
    return AuthorizationRequest(
        payment_id=str(uuid.uuid4()),
        merchant_id="m-1",
        amount=amount,
        currency="EUR",
        expiry_year=2035,
        expiry_month=12,
        card=CARD,
    )


def test_the_bank_authorizes_a_key_once_and_answers_the_same_after(bank: Any) -> None:
    request = _request()

    first = bank.authorize(request, idempotency_key=request.payment_id)
    assert first.status is PaymentStatus.ACCEPTED
    assert bank.authorize(request, idempotency_key=request.payment_id) == first
    assert bank.inquire(request.payment_id) == first
    assert bank.void_unless_decided(request.payment_id) == first


def test_a_voided_key_is_never_authorized_afterwards(bank: Any) -> None:
    request = _request()

    assert bank.inquire(request.payment_id) is None
    assert bank.void_unless_decided(request.payment_id) is None
    assert bank.authorize(request, idempotency_key=request.payment_id) == PROCESSING_FAILED
