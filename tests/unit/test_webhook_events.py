"""Events: one per status reached, named by it, identified by payment and version."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from core.domain.payment import Payment, PaymentStatus
from core.domain.payment_view import PaymentView
from core.domain.webhook_events import (
    WebhookEvent,
    event_id,
    event_of_write,
    event_type_of,
    parse_event_id,
)
from core.domain.webhook_retry import (
    FIRST_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    RETRY_FOR_SECONDS,
    next_attempt_at,
)

PAYMENT = "27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (PaymentStatus.CREATED, PaymentStatus.PROCESSING, "payment.processing"),
        (PaymentStatus.PROCESSING, PaymentStatus.PENDING, "payment.pending"),
        (PaymentStatus.PENDING, PaymentStatus.ACCEPTED, "payment.accepted"),
        (PaymentStatus.PROCESSING, PaymentStatus.DECLINED, "payment.declined"),
        (PaymentStatus.PROCESSING, PaymentStatus.INSUFFICIENT_FUNDS, "payment.insufficient_funds"),
        (PaymentStatus.PROCESSING, PaymentStatus.FAILED, "payment.failed"),
        (None, PaymentStatus.CREATED, None),
        (PaymentStatus.PROCESSING, PaymentStatus.PROCESSING, None),
        (PaymentStatus.PENDING, PaymentStatus.PENDING, None),
    ],
)
def test_a_status_reached_is_an_event_and_nothing_else_is(
    old: PaymentStatus | None, new: PaymentStatus, expected: str | None
) -> None:
    assert event_type_of(old, new) == expected


def test_the_event_id_is_the_payment_and_version_and_reads_back() -> None:
    assert event_id(PAYMENT, 3) == f"evt_{PAYMENT}_3"
    assert parse_event_id(event_id(PAYMENT, 3)) == (PAYMENT, 3)
    huge = "9" * 5000  # more digits than int() reads
    for bad in (
        "evt_",
        f"evt_{PAYMENT}",
        f"evt_{PAYMENT}_x",
        f"evt_{PAYMENT}_{huge}",
        "pay_1_2",
        "",
    ):
        assert parse_event_id(bad) is None


def test_a_version_of_up_to_15_digits_reads_back_and_the_id_splits_at_its_last_underscore() -> None:
    assert parse_event_id(f"evt_{PAYMENT}_{'9' * 15}") == (PAYMENT, 10**15 - 1)
    assert parse_event_id(f"evt_{PAYMENT}_{'9' * 16}") is None
    assert parse_event_id("evt_a_b_7") == ("a_b", 7)


def test_a_write_that_reaches_a_status_makes_its_event_from_the_payment_as_written() -> None:
    accepted = Payment(PAYMENT, "ada", PaymentStatus.ACCEPTED, 3, 1_800_000_000, 1_800_000_042)

    processing = replace(accepted, status=PaymentStatus.PROCESSING, version=2)
    event = event_of_write(processing, accepted)

    assert event == WebhookEvent(
        "payment.accepted",
        1_800_000_042,
        PAYMENT,
        "ada",
        3,
        PaymentView.of(accepted).to_json(),
    )
    assert event_of_write(accepted, accepted) is None  # a note, not a change
    assert event_of_write(None, accepted) is not None  # a new item that is already a status


def test_the_event_shape() -> None:
    event = WebhookEvent("payment.accepted", 1_800_000_000, PAYMENT, "ada", 4, {"status": "A"})
    assert event.to_json() == {
        "id": f"evt_{PAYMENT}_4",
        "type": "payment.accepted",
        "created": 1_800_000_000,
        "paymentId": PAYMENT,
        "merchantId": "ada",
        "version": 4,
        "data": {"status": "A"},
    }


def test_retries_back_off_exponentially_with_jitter_for_three_days_then_stop() -> None:
    rng = random.Random(7)
    start = 1_000_000.0
    at, attempt, waits = start, 1, []
    while (due := next_attempt_at(attempt, at, start, rng)) is not None:
        waits.append(due - at)
        at, attempt = due, attempt + 1
    assert FIRST_WAIT_SECONDS / 2 <= waits[0] <= FIRST_WAIT_SECONDS
    assert max(waits) <= MAX_WAIT_SECONDS
    assert at - start <= RETRY_FOR_SECONDS
    assert at - start > RETRY_FOR_SECONDS - MAX_WAIT_SECONDS  # the whole budget is used
    assert 12 <= attempt <= 40


class _Extreme(random.Random):
    """Jitter at one end of its range: the shortest (`low`) or the longest wait."""

    def __init__(self, *, low: bool) -> None:
        super().__init__()
        self.low = low

    def uniform(self, a: float, b: float) -> float:
        return a if self.low else b


def test_a_retry_waits_at_least_half_the_first_wait_and_at_most_its_ceiling() -> None:
    start = 1_000_000.0

    assert next_attempt_at(1, start, start, _Extreme(low=True)) == start + FIRST_WAIT_SECONDS / 2
    assert next_attempt_at(1, start, start, _Extreme(low=False)) == start + FIRST_WAIT_SECONDS
    assert next_attempt_at(20, start, start, _Extreme(low=False)) == start + MAX_WAIT_SECONDS


def test_a_retry_due_exactly_at_the_end_of_the_three_days_is_still_made() -> None:
    first = 1_000_000.0
    failed_at = first + RETRY_FOR_SECONDS - FIRST_WAIT_SECONDS  # attempt 1's longest wait left

    assert next_attempt_at(1, failed_at, first, _Extreme(low=False)) == first + RETRY_FOR_SECONDS
    assert next_attempt_at(1, failed_at + 1, first, _Extreme(low=False)) is None
