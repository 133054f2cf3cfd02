from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from core.adapters.partition_keys import stable_slot
from core.domain.errors import (
    ConcurrentUpdateError,
    InvalidCursorError,
    PaymentExistsError,
    TransitionRejectedError,
)
from core.domain.payment import (
    AUTHORIZATION_HOLD_SECONDS,
    BankOutcome,
    CaptureMethod,
    Payment,
    PaymentDetails,
    PaymentStatus,
)
from core.domain.refunds import REFUND_DECLINED, REFUND_SUCCEEDED, Refund, RefundStatus
from tests.contract.conftest import LAYOUT, POLICY

NOW = 1_800_000_000
TTL = 600
DETAILS = PaymentDetails(
    amount=1250,
    currency="EUR",
    expiry_year=2035,
    expiry_month=12,
    card_name="Ada Lovelace",
    billing_address="12 Analytical Row",
    card_last_four="4242",
    request_digest="digest-1",
)


def created(merchant: str = "m-1", at: int = NOW, payment_id: str | None = None) -> Payment:
    return Payment(
        payment_id=payment_id or str(uuid.uuid4()),
        merchant_id=merchant,
        status=PaymentStatus.CREATED,
        version=1,
        created_at=at,
        updated_at=at,
        expires_at=at + TTL,
    )


def submit(
    store: Any, payment: Payment, now: int = NOW + 5, merchant: str | None = None
) -> Payment:
    result: Payment = store.mark_processing(
        payment_id=payment.payment_id,
        merchant_id=merchant or payment.merchant_id,
        details=DETAILS,
        card_ciphertext=b"\x01ciphertext",
        correlation_id="req-1",
        now=now,
    )
    return result


def stalled_ids(store: Any, now: int) -> list[str]:
    return [s.payment_id for page in store.stalled_pages(now) for s in page]


def test_a_payment_is_added_once_and_read_back_as_written(store: Any) -> None:
    payment = created()
    store.add(payment)

    assert store.get(payment.payment_id) == payment
    with pytest.raises(PaymentExistsError):
        store.add(replace(payment, merchant_id="m-2"))
    assert store.get(payment.payment_id) == payment
    assert store.get(str(uuid.uuid4())) is None


def test_mark_processing_takes_only_the_merchants_unexpired_created_payment(store: Any) -> None:
    payment, expired = created(), created(at=NOW - TTL - 1)
    store.add(payment)
    store.add(expired)

    with pytest.raises(TransitionRejectedError) as other_merchant:
        submit(store, payment, merchant="m-2")
    assert other_merchant.value.current == payment
    with pytest.raises(TransitionRejectedError) as too_late:
        submit(store, expired)
    assert too_late.value.current == expired
    with pytest.raises(TransitionRejectedError) as unknown:
        submit(store, created())
    assert unknown.value.current is None

    processing = submit(store, payment)
    assert (processing.status, processing.version, processing.expires_at) == (
        PaymentStatus.PROCESSING,
        2,
        None,
    )
    assert (processing.details, processing.card_ciphertext) == (DETAILS, b"\x01ciphertext")
    assert store.get(payment.payment_id) == processing
    with pytest.raises(TransitionRejectedError) as repeated:
        submit(store, payment)
    assert repeated.value.current == processing


def test_a_transition_is_written_only_on_the_version_read(store: Any) -> None:
    payment = created()
    store.add(payment)
    processing = submit(store, payment)
    accepted = processing.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), NOW + 9)

    with pytest.raises(ValueError, match="by exactly one"):
        store.save_transition(processing, replace(accepted, version=9))
    store.save_transition(processing, accepted)
    with pytest.raises(ConcurrentUpdateError):
        store.save_transition(processing, accepted)

    stored = store.get(payment.payment_id)
    assert stored == accepted
    assert stored.card_ciphertext is None


def test_an_expired_payment_is_renewed_and_an_unexpired_one_is_not(store: Any) -> None:
    live, old = created(), created(at=NOW - TTL - 1)
    store.add(live)
    store.add(old)
    fresh = created(payment_id=old.payment_id)

    with pytest.raises(ConcurrentUpdateError):
        store.renew_expired(live, created(payment_id=live.payment_id))
    store.renew_expired(old, fresh)
    assert store.get(old.payment_id) == fresh
    with pytest.raises(ConcurrentUpdateError):
        store.renew_expired(old, fresh)


def test_the_in_flight_index_holds_payments_in_flight_until_due_and_drops_final_ones(
    store: Any,
) -> None:
    first, second, never_paid = created(), created(), created()
    for payment in (first, second, never_paid):
        store.add(payment)
    one = submit(store, first, now=NOW + 5)
    submit(store, second, now=NOW + 6)
    due = NOW + 5 + POLICY.reconcile_after_seconds

    assert stalled_ids(store, due - 1) == []
    assert stalled_ids(store, due) == [first.payment_id]
    assert stalled_ids(store, due + 1) == [first.payment_id, second.payment_id]
    in_flight = [s.payment_id for page in store.in_flight_pages() for s in page]
    assert in_flight == [first.payment_id, second.payment_id]

    store.save_transition(one, one.with_outcome(BankOutcome(PaymentStatus.DECLINED), due))
    assert stalled_ids(store, due + 10_000) == [second.payment_id]


def test_a_look_by_the_reconciler_moves_the_payment_on_and_counts(store: Any) -> None:
    payment = created()
    store.add(payment)
    processing = submit(store, payment)
    due = NOW + 5 + POLICY.reconcile_after_seconds

    store.touch_progress(processing, due)
    assert stalled_ids(store, due) == []
    assert stalled_ids(store, due + POLICY.reconcile_after_seconds) == [payment.payment_id]
    assert store.get(payment.payment_id).reconcile_count == 1

    accepted = processing.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), due)
    store.save_transition(processing, accepted)
    with pytest.raises(ConcurrentUpdateError):
        store.touch_progress(accepted, due)
    with pytest.raises(ConcurrentUpdateError):
        store.touch_progress(processing, due)


def test_a_payment_left_waiting_is_looked_at_again_later_counting_nothing(store: Any) -> None:
    payment = created()
    store.add(payment)
    processing = submit(store, payment)
    due = NOW + 5 + POLICY.reconcile_after_seconds
    store.touch_progress(processing, due)
    looked_at = store.get(payment.payment_id)
    assert looked_at.reconciled_at == due

    store.note_waiting(looked_at, due + 7)

    assert stalled_ids(store, due + 6) == []
    assert stalled_ids(store, due + 7) == [payment.payment_id]
    waiting = store.get(payment.payment_id)
    assert (waiting.reconcile_count, waiting.reconciled_at) == (1, due)
    accepted = waiting.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), due + 8)
    store.save_transition(waiting, accepted)
    assert store.get(payment.payment_id).reconciled_at is None
    with pytest.raises(ConcurrentUpdateError):
        store.note_waiting(waiting, due + 9)


def test_failures_are_noted_without_a_state_change_and_never_on_a_payment_that_moved_on(
    store: Any,
) -> None:
    payment = created()
    store.add(payment)
    processing = submit(store, payment)

    store.note_failure(processing, "bank unavailable", NOW + 10)
    store.note_failure(processing, "bank timed out", NOW + 20)
    store.note_dead_lettered(payment.payment_id, 4)
    noted = store.get(payment.payment_id)
    assert noted.failure is not None
    assert (noted.failure.reason, noted.failure.first_at, noted.failure.last_at) == (
        "bank timed out",
        NOW + 10,
        NOW + 20,
    )
    assert (noted.failure.count, noted.failure.dead_letter_receives) == (2, 4)
    assert (noted.status, noted.version) == (processing.status, processing.version)

    accepted = processing.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), NOW + 30)
    store.save_transition(processing, accepted)
    store.note_failure(processing, "late", NOW + 40)
    store.note_dead_lettered(payment.payment_id, 9)
    assert store.get(payment.payment_id) == accepted


def test_an_enqueue_failure_is_marked_and_cleared_only_while_in_flight(store: Any) -> None:
    payment = created()
    store.add(payment)
    processing = submit(store, payment)

    store.note_enqueue_failed(processing)
    assert store.get(payment.payment_id).enqueue_failed is True
    store.note_enqueued(processing)
    assert store.get(payment.payment_id).enqueue_failed is False

    store.save_transition(
        processing, processing.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), NOW + 9)
    )
    with pytest.raises(ConcurrentUpdateError):
        store.note_enqueue_failed(processing)


def test_the_card_is_erased_without_a_state_change(store: Any) -> None:
    payment = created()
    store.add(payment)
    processing = submit(store, payment)

    store.erase_card(processing)

    erased = store.get(payment.payment_id)
    assert erased.card_ciphertext is None
    assert (erased.status, erased.version, erased.details) == (
        PaymentStatus.PROCESSING,
        2,
        DETAILS,
    )


def _listed(store: Any, merchant: str, **options: Any) -> list[str]:
    found: list[str] = []
    after = None
    for _ in range(100):
        page = store.list_for_merchant(
            merchant_id=merchant,
            created_from=options.get("created_from", 0),
            created_to=options.get("created_to", NOW * 2),
            status=options.get("status"),
            limit=options.get("limit", 2),
            after=after,
            now=NOW,
        )
        found += [p.payment_id for p in page.payments]
        after = page.next_position
        if after is None:
            return found
    raise AssertionError("the listing never ended")


def test_a_merchants_listing_pages_newest_first_through_its_visible_payments(store: Any) -> None:
    mine = [created(at=NOW - 100 + i) for i in range(5)]
    expired = created(at=NOW - TTL - 5)
    for payment in (*mine, expired, created(merchant="m-2")):
        store.add(payment)
    submit(store, mine[1], now=NOW)

    newest_first = [p.payment_id for p in reversed(mine)]
    assert _listed(store, "m-1") == newest_first
    assert _listed(store, "m-1", limit=100) == newest_first
    assert _listed(store, "m-1", status=PaymentStatus.PROCESSING) == [mine[1].payment_id]
    assert _listed(store, "m-1", created_from=NOW - 98, created_to=NOW - 97) == [
        mine[3].payment_id,
        mine[2].payment_id,
    ]


@pytest.mark.parametrize("limit", [1, 3, 7, 100])
def test_payments_of_one_second_in_every_bucket_are_listed_once_in_one_exact_order(
    store: Any, limit: int
) -> None:
    # 40 payments over 4 seconds, ten in each; the newest second's all in one bucket, so the
    # merge must read that bucket again before it may list anything from the others
    ids = [str(uuid.UUID(int=n)) for n in range(200)]
    one_bucket = [i for i in ids if stable_slot(i, LAYOUT.merchant_buckets) == 0][:10]
    spread = [i for i in ids if i not in one_bucket][:30]
    payments = [
        created(at=NOW - 10 + n // 10, payment_id=payment_id)
        for n, payment_id in enumerate(spread + one_bucket)
    ]
    for payment in payments:
        store.add(payment)
    for payment in payments[::5]:
        submit(store, payment, now=NOW)

    newest_first = sorted(payments, key=lambda p: (p.created_at, p.payment_id), reverse=True)
    assert _listed(store, "m-1", limit=limit) == [p.payment_id for p in newest_first]
    assert _listed(store, "m-1", limit=limit, status=PaymentStatus.PROCESSING) == [
        p.payment_id for p in newest_first if p in payments[::5]
    ]
    assert _listed(store, "m-1", limit=limit, created_from=NOW - 9, created_to=NOW - 8) == [
        p.payment_id for p in newest_first if NOW - 9 <= p.created_at <= NOW - 8
    ]


def test_a_listing_position_is_accepted_only_by_its_merchants_listing(store: Any) -> None:
    for at in (NOW - 3, NOW - 2, NOW - 1):
        store.add(created(at=at))
    page = store.list_for_merchant(
        merchant_id="m-1", created_from=0, created_to=NOW, status=None, limit=1, after=None, now=NOW
    )
    assert page.next_position is not None

    for other in ("m-2", "m-1 "):
        with pytest.raises(InvalidCursorError):
            store.list_for_merchant(
                merchant_id=other,
                created_from=0,
                created_to=NOW,
                status=None,
                limit=1,
                after=page.next_position,
                now=NOW,
            )
    with pytest.raises(InvalidCursorError):
        store.list_for_merchant(
            merchant_id="m-1",
            created_from=0,
            created_to=NOW,
            status=None,
            limit=1,
            after="{",
            now=NOW,
        )


def test_payments_are_counted_by_status_and_a_bounded_count_says_so(store: Any) -> None:
    payments = [created() for _ in range(3)]
    for payment in payments:
        store.add(payment)
    submit(store, payments[0])

    assert store.count_by_status(100) == ({"Created": 2, "Processing": 1}, False)
    counts, stopped = store.count_by_status(2)
    assert (sum(counts.values()), stopped) == (2, True)


def test_every_payment_in_flight_is_listed_once_in_due_order(store: Any) -> None:
    payments = [created() for _ in range(40)]
    for offset, payment in enumerate(payments):
        store.add(payment)
        submit(store, payment, now=NOW + 1 + offset % 7)
    due_by = NOW + 8 + POLICY.reconcile_after_seconds

    listed = [s for page in store.stalled_pages(due_by) for s in page]

    assert sorted(s.payment_id for s in listed) == sorted(p.payment_id for p in payments)
    assert [s.reconcile_at for s in listed] == sorted(s.reconcile_at for s in listed)


def test_a_manual_capture_its_settlement_and_refunds_are_read_back_as_written(
    store: Any,
) -> None:
    # GIVEN a manual payment authorized, captured in part, refunded twice (one declined)
    payment = created()
    store.add(payment)
    manual = replace(DETAILS, capture_method=CaptureMethod.MANUAL)
    processing = store.mark_processing(
        payment_id=payment.payment_id,
        merchant_id=payment.merchant_id,
        details=manual,
        card_ciphertext=b"\x01ciphertext",
        correlation_id="req-1",
        now=NOW + 5,
    )
    assert processing.capture_method is CaptureMethod.MANUAL
    steps = [processing.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), NOW + 6)]
    steps.append(steps[-1].asks_capture(1000, NOW + 7))
    steps.append(steps[-1].with_settlement_done(NOW + 8))
    declined = Refund("rf_" + "a" * 32, 3, RefundStatus.PENDING, NOW + 9, NOW + 9, "oops")
    given = Refund("rf_" + "b" * 32, 500, RefundStatus.PENDING, NOW + 9, NOW + 9)
    steps.append(steps[-1].asks_refund(declined, NOW + 9))
    steps.append(steps[-1].asks_refund(given, NOW + 9))
    steps.append(steps[-1].with_refund_outcome(declined.refund_id, REFUND_DECLINED, NOW + 10))
    before = processing
    for step in steps:
        # WHEN each is written
        store.save_transition(before, step)
        # THEN it reads back exactly as written
        assert store.get(payment.payment_id) == step
        before = step
    assert before.refunds[0].fail_code == "refund_declined"
    assert before.refundable_amount == 500


def test_the_in_flight_index_holds_money_work_and_authorizations_until_their_hold_ends(
    store: Any,
) -> None:
    # GIVEN an authorization (held), and an accepted payment with a refund pending
    held, refunded = created(), created()
    for payment in (held, refunded):
        store.add(payment)
    authorized = submit(store, held)
    authorized_at = NOW + 6
    manual = replace(authorized, details=replace(DETAILS, capture_method=CaptureMethod.MANUAL))
    store.save_transition(
        authorized, manual.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), authorized_at)
    )
    accepted = submit(store, refunded)
    accepted = _written(
        store, accepted, accepted.with_outcome(BankOutcome(PaymentStatus.ACCEPTED), NOW + 6)
    )
    refund = Refund("rf_" + "c" * 32, 100, RefundStatus.PENDING, NOW + 7, NOW + 7)
    asked = _written(store, accepted, accepted.asks_refund(refund, NOW + 7))

    # THEN the refund is due once its job could be lost, the authorization at 7 days
    due = NOW + 7 + POLICY.reconcile_after_seconds
    assert stalled_ids(store, due - 1) == []
    assert stalled_ids(store, due) == [refunded.payment_id]
    hold_ends = authorized_at + AUTHORIZATION_HOLD_SECONDS
    assert stalled_ids(store, hold_ends) == [refunded.payment_id, held.payment_id]
    # AND once the bank answered the refund it leaves the index
    _written(store, asked, asked.with_refund_outcome(refund.refund_id, REFUND_SUCCEEDED, due))
    assert stalled_ids(store, hold_ends) == [held.payment_id]


def _written(store: Any, before: Payment, after: Payment) -> Payment:
    store.save_transition(before, after)
    return after
