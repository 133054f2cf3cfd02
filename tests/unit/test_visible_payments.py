"""The one rule for reading a payment for a merchant (core/use_cases/visible_payments.py):
its own and visible now, else 404 naming only the id asked for; another merchant's id in
the request is 403; an item nobody can read is 404 too."""

from __future__ import annotations

import logging

import pytest

from core.domain.errors import (
    MerchantMismatchError,
    PaymentNotFoundError,
    UnreadablePaymentError,
)
from core.domain.payment import Payment, PaymentStatus
from core.domain.reconcile_policy import ReconcilePolicy
from core.observability import logger
from core.use_cases.visible_payments import visible_payment
from tests.fakes import InMemoryPaymentStore
from tests.unit.use_case_world import SETTINGS

CREATED_AT = 1_800_000_000


class UnreadableStore(InMemoryPaymentStore):
    def get(self, payment_id: str) -> Payment | None:
        raise UnreadablePaymentError(f"item {payment_id} has no status")


def _store(
    *payments: Payment, kind: type[InMemoryPaymentStore] = InMemoryPaymentStore
) -> InMemoryPaymentStore:
    store = kind(ReconcilePolicy.of(SETTINGS))
    for payment in payments:
        store.add(payment)
    return store


def _created(payment_id: str = "p-1", merchant_id: str = "m-1") -> Payment:
    return Payment(
        payment_id,
        merchant_id,
        PaymentStatus.CREATED,
        1,
        CREATED_AT,
        CREATED_AT,
        expires_at=CREATED_AT + 600,
    )


def test_a_merchant_reads_its_own_payment() -> None:
    payment = _created()

    assert visible_payment(_store(payment), "m-1", "m-1", "p-1", CREATED_AT) == payment


def test_another_merchants_payment_is_not_found_and_the_answer_names_only_the_id() -> None:
    with pytest.raises(PaymentNotFoundError) as refused:
        visible_payment(_store(_created()), "m-2", "m-2", "p-1", CREATED_AT)

    assert str(refused.value) == "payment p-1 was not found"


def test_a_merchant_id_that_is_not_the_callers_is_refused_before_any_read() -> None:
    with pytest.raises(MerchantMismatchError):
        visible_payment(_store(kind=UnreadableStore), "m-1", "m-2", "p-1", CREATED_AT)


def test_a_payment_that_does_not_exist_is_not_found() -> None:
    with pytest.raises(PaymentNotFoundError, match=r"^payment p-9 was not found$"):
        visible_payment(_store(_created()), "m-1", "m-1", "p-9", CREATED_AT)


def test_a_created_payment_left_unused_past_its_expiry_is_gone() -> None:
    store = _store(_created())

    assert visible_payment(store, "m-1", "m-1", "p-1", CREATED_AT + 599)
    with pytest.raises(PaymentNotFoundError):
        visible_payment(store, "m-1", "m-1", "p-1", CREATED_AT + 600)


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_unreadable_item_is_not_found_and_logged_with_why_for_the_alarm() -> None:
    kept = _Kept()
    logging.getLogger(logger.name).addHandler(kept)
    try:
        with pytest.raises(PaymentNotFoundError) as refused:
            visible_payment(_store(kind=UnreadableStore), "m-1", "m-1", "p-1", CREATED_AT)
    finally:
        logging.getLogger(logger.name).removeHandler(kept)

    assert str(refused.value) == "payment p-1 was not found"
    assert refused.value.__cause__ is None  # the item's error is not chained into the answer
    assert [(r.levelname, r.getMessage(), getattr(r, "error", None)) for r in kept.records] == [
        ("ERROR", "unreadable payment asked for", "item p-1 has no status")
    ]
