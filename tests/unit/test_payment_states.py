from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.payment import (
    FINAL_STATUSES,
    PROCESSING_FAILED,
    BankOutcome,
    FailureNotes,
    IllegalTransitionError,
    Payment,
    PaymentStatus,
    check_transition,
)


def _payment(status: PaymentStatus, version: int = 2) -> Payment:
    return Payment(
        payment_id="p",
        merchant_id="m",
        status=status,
        version=version,
        created_at=0,
        updated_at=0,
        card_ciphertext=b"sealed",
    )


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_final_is_final(final: PaymentStatus) -> None:
    for target in PaymentStatus:
        with pytest.raises(IllegalTransitionError):
            check_transition(final, target)


def test_created_can_only_become_processing() -> None:
    check_transition(PaymentStatus.CREATED, PaymentStatus.PROCESSING)
    with pytest.raises(IllegalTransitionError, match=r"^Created -> Accepted is not allowed$"):
        check_transition(PaymentStatus.CREATED, PaymentStatus.ACCEPTED)


def test_a_final_outcome_raises_the_version_by_one_and_erases_the_card() -> None:
    after = _payment(PaymentStatus.PROCESSING).with_outcome(
        BankOutcome(PaymentStatus.DECLINED, "card_declined", "declined by the issuer"), now=5
    )

    assert after.version == 3
    assert after.card_ciphertext is None
    assert after.fail_code == "card_declined"
    assert after.fail_reason == "declined by the issuer"


def test_pending_erases_the_card_as_the_bank_has_answered() -> None:
    # PCI DSS 3.3.1: no sensitive authentication data once the bank has answered; the
    # next check goes by the idempotency key alone.
    after = _payment(PaymentStatus.PROCESSING).with_outcome(
        BankOutcome(PaymentStatus.PENDING), now=5
    )

    assert after.card_ciphertext is None
    assert after.status is PaymentStatus.PENDING


@pytest.mark.parametrize("status", [PaymentStatus.PROCESSING, PaymentStatus.PENDING])
def test_an_in_flight_payment_may_end_failed_and_failed_is_final(status: PaymentStatus) -> None:
    after = _payment(status).with_outcome(PROCESSING_FAILED, now=5)

    assert after.status is PaymentStatus.FAILED
    assert after.fail_code == "processing_failed"
    assert after.status.is_final and not after.status.is_in_flight
    with pytest.raises(IllegalTransitionError):
        after.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), now=6)


def test_an_expired_created_payment_is_invisible_but_a_paid_one_is_not() -> None:
    created = Payment("p", "m", PaymentStatus.CREATED, 1, 0, 0, expires_at=600)

    assert created.visible_to("m", 599)
    assert not created.visible_to("m", 600)
    assert not created.visible_to("other", 0)
    assert _payment(PaymentStatus.PROCESSING).visible_to("m", 10**9)


def test_only_its_merchant_pays_a_created_payment_and_only_before_it_expires() -> None:
    created = Payment("p", "m", PaymentStatus.CREATED, 1, 0, 0, expires_at=600)

    assert created.takes_card_from("m", 599)
    assert not created.takes_card_from("m", 600)  # expired
    assert not created.takes_card_from("other", 0)
    assert not replace(created, version=2).takes_card_from("m", 0)  # changed since
    assert not replace(created, expires_at=None).takes_card_from("m", 0)
    assert not _payment(PaymentStatus.PROCESSING).takes_card_from("m", 0)


def test_the_banks_answer_starts_the_payments_watch_afresh() -> None:
    # GIVEN an in-flight payment the reconciler re-queued twice, whose last processing
    # failed and whose job once could not be queued
    before = replace(
        _payment(PaymentStatus.PENDING),
        bank_checks=1,
        reconcile_count=2,
        reconciled_at=40,
        failure=FailureNotes("bank timed out", first_at=10, last_at=30, count=3),
        enqueue_failed=True,
        fail_code="stale",
        fail_reason="stale",
    )

    # WHEN the bank answers
    after = before.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), now=50)

    # THEN the answer is recorded, and what watched the old attempts is cleared
    assert after == replace(
        before,
        status=PaymentStatus.ACCEPTED,
        version=before.version + 1,
        updated_at=50,
        card_ciphertext=None,
        fail_code=None,
        fail_reason=None,
        bank_checks=2,
        reconcile_count=0,
        reconciled_at=None,
        failure=None,
        enqueue_failed=False,
    )
    assert after.created_at == before.created_at
