from __future__ import annotations

from dataclasses import replace

from core.domain.payment import Payment, PaymentStatus
from core.domain.polling import poll_after_seconds, recheck_delay_seconds

NOW = 1_800_000_000
PAYMENT = Payment("p-1", "m-1", PaymentStatus.PROCESSING, 2, NOW - 100, NOW)


def poll(payment: Payment, now: int = NOW) -> int | None:
    return poll_after_seconds(payment, now, recheck_base=5, recheck_cap=900)


def test_a_processing_payment_is_polled_soon_then_less_often_up_to_a_minute() -> None:
    assert [poll(PAYMENT, NOW + waited) for waited in (0, 1, 3, 10, 60, 119, 3600)] == [
        1,
        1,
        1,
        5,
        30,
        59,
        60,
    ]
    assert poll(PAYMENT, NOW - 50) == 1  # a clock behind the write


def test_a_pending_payment_is_polled_at_the_workers_next_recheck() -> None:
    pending = replace(PAYMENT, status=PaymentStatus.PENDING, bank_checks=3)

    assert recheck_delay_seconds(3, 5, 900) == 20
    assert poll(pending) == 20
    assert poll(pending, NOW + 15) == 5
    assert poll(pending, NOW + 40) == 1
    assert poll(replace(pending, bank_checks=30)) == 900


def test_no_poll_pace_once_final_or_before_submission() -> None:
    for status in (PaymentStatus.CREATED, PaymentStatus.ACCEPTED, PaymentStatus.FAILED):
        assert poll(replace(PAYMENT, status=status)) is None
