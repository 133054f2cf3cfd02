"""The money lifecycle on the fakes (core/use_cases/payment_operations.py and the worker's
half in payment_processor.py): manual capture, partial capture, voids (the merchant's, and
paygate's after 7 days), refunds, and the rule that refunds never pass what was captured."""

from __future__ import annotations

import pytest

from core.domain.errors import BankUnavailableError, MerchantMismatchError, PaymentNotFoundError
from core.domain.jobs import PaymentJob
from core.domain.payment import (
    AUTHORIZATION_HOLD_SECONDS,
    BankOutcome,
    CaptureExceedsAuthorizedError,
    CaptureMethod,
    NotCapturableError,
    NotRefundableError,
    Payment,
    PaymentStatus,
    RefundExceedsCapturedError,
    TooManyRefundsError,
    VoidReason,
)
from core.domain.refunds import MAX_REFUNDS_PER_PAYMENT, RefundStatus
from core.domain.webhook_events import event_of_write
from tests.unit.lifecycle_world import operations as _ops
from tests.unit.lifecycle_world import paid as _paid
from tests.unit.lifecycle_world import stored as _now
from tests.unit.use_case_world import MERCHANT, OTHER_MERCHANT, World


@pytest.fixture
def world() -> World:
    return World()


def test_a_manual_capture_holds_the_funds_then_captures_part_and_releases_the_rest(
    world: World,
) -> None:
    authorized = _paid(world, 1250, CaptureMethod.MANUAL)
    assert authorized.status is PaymentStatus.AUTHORIZED
    assert authorized.card_ciphertext is None and authorized.captured_amount is None

    asked = _ops(world).capture(MERCHANT, MERCHANT, authorized.payment_id, 1000, "req-2")
    assert asked.status is PaymentStatus.AUTHORIZED and asked.settlement is not None
    world.work()

    captured = _now(world, authorized)
    assert (captured.status, captured.captured_amount) == (PaymentStatus.ACCEPTED, 1000)
    assert world.bank.total("capture", authorized.payment_id) == 1000
    assert captured.version == authorized.version + 2  # asked, then done


def test_a_capture_without_an_amount_takes_the_whole_authorization(world: World) -> None:
    authorized = _paid(world, 1250, CaptureMethod.MANUAL)
    _ops(world).capture(MERCHANT, MERCHANT, authorized.payment_id, None, "req-2")
    world.work()
    assert _now(world, authorized).captured_amount == 1250


def test_an_automatic_payment_is_captured_whole_when_accepted(world: World) -> None:
    accepted = _paid(world, 1250)
    assert (accepted.status, accepted.captured_amount) == (PaymentStatus.ACCEPTED, 1250)


def test_capture_and_void_are_refused_unless_authorized_with_nothing_under_way(
    world: World,
) -> None:
    accepted = _paid(world, 1250)
    with pytest.raises(NotCapturableError):
        _ops(world).capture(MERCHANT, MERCHANT, accepted.payment_id, None, "r")
    with pytest.raises(NotCapturableError):
        _ops(world).void(MERCHANT, MERCHANT, accepted.payment_id, "r")
    authorized = _paid(world, 1250, CaptureMethod.MANUAL)
    with pytest.raises(CaptureExceedsAuthorizedError):
        _ops(world).capture(MERCHANT, MERCHANT, authorized.payment_id, 1251, "r")
    _ops(world).capture(MERCHANT, MERCHANT, authorized.payment_id, 10, "r")
    with pytest.raises(NotCapturableError, match="already under way"):
        _ops(world).void(MERCHANT, MERCHANT, authorized.payment_id, "r")
    assert world.bank.moved == []  # nothing reached the bank: the worker has not run


def test_a_void_releases_the_authorization_and_says_why(world: World) -> None:
    authorized = _paid(world, 1250, CaptureMethod.MANUAL)
    _ops(world).void(MERCHANT, MERCHANT, authorized.payment_id, "req-2")
    world.work()
    voided = _now(world, authorized)
    assert (voided.status, voided.void_reason) == (PaymentStatus.VOIDED, VoidReason.REQUESTED)
    with pytest.raises(NotRefundableError):
        _ops(world).refund(MERCHANT, MERCHANT, voided.payment_id, 1, None, "r")


def test_an_authorization_not_captured_within_7_days_is_voided_by_the_reconciler(
    world: World,
) -> None:
    authorized = _paid(world, 1250, CaptureMethod.MANUAL)
    world.clock.advance(AUTHORIZATION_HOLD_SECONDS - 60)
    world.reconcile()
    assert _now(world, authorized).status is PaymentStatus.AUTHORIZED

    world.clock.advance(120)
    world.reconcile()
    world.work()

    voided = _now(world, authorized)
    assert (voided.status, voided.void_reason) == (PaymentStatus.VOIDED, VoidReason.EXPIRED)
    assert world.bank.calls[-1] == ("void", f"{authorized.payment_id}:void")


def test_two_partial_refunds_then_a_third_past_the_captured_amount_is_refused(
    world: World,
) -> None:
    accepted = _paid(world, 1000)
    first, refund_a = _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 600, None, "r")
    _, refund_b = _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 400, "gift", "r")
    assert refund_a.status is RefundStatus.PENDING and refund_a.refund_id != refund_b.refund_id
    with pytest.raises(RefundExceedsCapturedError, match="at most 0"):
        _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 1, None, "r")

    world.work()

    refunded = _now(world, accepted)
    assert refunded.status is PaymentStatus.ACCEPTED
    assert refunded.refunded_amount == 1000
    assert [r.status for r in refunded.refunds] == [RefundStatus.SUCCEEDED] * 2
    assert world.bank.total("refund", accepted.payment_id) == 1000
    assert refunded.version == first.version + 3  # the second asked, then two answers


def test_a_declined_refund_gives_its_amount_back_to_what_may_be_refunded(world: World) -> None:
    accepted = _paid(world, 1000)
    _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 3, None, "r")  # declined
    world.work()
    payment = _now(world, accepted)
    (failed,) = payment.refunds
    assert (failed.status, failed.fail_code) == (RefundStatus.FAILED, "refund_declined")
    assert payment.refundable_amount == 1000 and payment.refunded_amount == 0
    _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 1000, None, "r")


@pytest.mark.parametrize("refusal", [PaymentStatus.DECLINED, PaymentStatus.INSUFFICIENT_FUNDS])
def test_a_payment_that_captured_nothing_cannot_be_refunded(
    world: World, refusal: PaymentStatus
) -> None:
    world.bank.answers[7] = BankOutcome(refusal, "refused", "refused")
    refused = _paid(world, 7)
    with pytest.raises(NotRefundableError):
        _ops(world).refund(MERCHANT, MERCHANT, refused.payment_id, 1, None, "r")
    authorized = _paid(world, 1250, CaptureMethod.MANUAL)
    with pytest.raises(NotRefundableError):
        _ops(world).refund(MERCHANT, MERCHANT, authorized.payment_id, 1, None, "r")


def test_another_merchants_payment_is_not_found_and_its_id_is_refused_as_the_callers(
    world: World,
) -> None:
    accepted = _paid(world, 1000)
    with pytest.raises(PaymentNotFoundError):
        _ops(world).refund(OTHER_MERCHANT, OTHER_MERCHANT, accepted.payment_id, 1, None, "r")
    with pytest.raises(MerchantMismatchError):
        _ops(world).refund(OTHER_MERCHANT, MERCHANT, accepted.payment_id, 1, None, "r")
    assert _now(world, accepted).refunds == ()


def test_the_same_idempotency_claim_answers_the_same_refund_and_refunds_once(
    world: World,
) -> None:
    accepted = _paid(world, 1000)
    _, first = _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 700, None, "r", "k1")
    _, again = _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 700, None, "r", "k1")
    world.work()
    assert first.refund_id == again.refund_id
    assert world.bank.total("refund", accepted.payment_id) == 700


def test_a_payment_holds_at_most_50_refunds(world: World) -> None:
    accepted = _paid(world, 1000)
    for _ in range(MAX_REFUNDS_PER_PAYMENT):
        _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 1, None, "r")
    with pytest.raises(TooManyRefundsError):
        _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 1, None, "r")


def test_a_refund_the_bank_could_not_answer_is_tried_again_and_moves_money_once(
    world: World,
) -> None:
    accepted = _paid(world, 1000)
    _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 250, None, "r")
    world.bank.unavailable = 100
    with pytest.raises(Exception, match="unavailable"):
        world.work()
    assert _now(world, accepted).failure is not None  # noted for `paygate dlq list`
    world.bank.unavailable = 0
    # SQS delivers the job again; a duplicate of it comes too
    job = PaymentJob(accepted.payment_id, "r")
    world.jobs.publish(job)
    world.jobs.publish(job)
    world.work()
    assert world.bank.total("refund", accepted.payment_id) == 250
    assert _now(world, accepted).refunded_amount == 250


def test_a_refund_whose_job_was_lost_is_queued_again_by_the_reconciler(world: World) -> None:
    accepted = _paid(world, 1000)
    _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 250, None, "r")
    world.jobs.take()  # the job is lost
    world.clock.advance(world.settings.reconcile_after_seconds + 1)
    report = world.reconcile()
    world.work()
    assert report.requeued == 1
    assert _now(world, accepted).refunded_amount == 250


def test_each_step_makes_one_event_and_a_refund_event_carries_its_refund(world: World) -> None:
    writes: list[tuple[Payment | None, Payment]] = []
    put = world.store._put

    def tapped(payment: Payment, reconcile_at: int | None = None) -> None:
        writes.append((world.store._payments.get(payment.payment_id), payment))
        put(payment, reconcile_at)

    world.store._put = tapped  # type: ignore[method-assign]
    authorized = _paid(world, 1000, CaptureMethod.MANUAL)
    _ops(world).capture(MERCHANT, MERCHANT, authorized.payment_id, 900, "r")
    world.work()
    _ops(world).refund(MERCHANT, MERCHANT, authorized.payment_id, 3, None, "r")
    _ops(world).refund(MERCHANT, MERCHANT, authorized.payment_id, 500, "late", "r")
    world.work()

    events = [event_of_write(old, new) for old, new in writes]
    made = [event for event in events if event is not None]
    assert [event.type for event in made] == [
        "payment.processing",
        "payment.authorized",
        "payment.accepted",
        "refund.failed",
        "payment.refunded",
    ]
    assert len({event.id for event in made}) == len(made)
    refunded = made[-1].to_json()
    assert refunded["refund"]["amount"] == 500 and refunded["refund"]["reason"] == "late"
    assert refunded["data"]["refundedAmount"] == 500
    assert refunded["data"]["capturedAmount"] == 900


def test_a_merchant_polling_a_payment_with_a_refund_on_its_way_is_told_when_to_look_again(
    world: World,
) -> None:
    accepted = _paid(world, 1000)
    assert world.service.poll_after_seconds(accepted) is None  # final, nothing on its way
    asked, _ = _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 100, None, "r")
    world.clock.advance(30)
    assert world.service.poll_after_seconds(asked) == 15  # half the wait so far
    world.work()
    assert world.service.poll_after_seconds(_now(world, accepted)) is None


def test_a_refund_the_bank_never_answers_does_not_hold_up_the_refunds_after_it(
    world: World,
) -> None:
    # Found by review: the worker stopped at the first refund that failed, in every job.
    accepted = _paid(world, 5000)
    _, stuck = _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 504, None, "r")
    _, later = _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 500, None, "r")
    world.bank.never_answers = {504}

    with pytest.raises(BankUnavailableError):
        world.work()

    payment = _now(world, accepted)
    assert payment.refund(later.refund_id).status is RefundStatus.SUCCEEDED  # type: ignore[union-attr]
    assert payment.refund(stuck.refund_id).status is RefundStatus.PENDING  # type: ignore[union-attr]
    assert payment.failure is not None and payment.has_work_in_flight


def test_a_refund_stuck_past_the_reconcilers_attempts_is_still_queued_less_often(
    world: World,
) -> None:
    # Found by review: past reconcile_max_attempts the reconciler only reported it stuck, so a
    # bank outage of an hour left the refund Pending until a person replayed its DLQ letter.
    accepted = _paid(world, 1000)
    _ops(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 250, None, "r")
    world.jobs.take()
    waits = []
    for _ in range(world.settings.reconcile_max_attempts + 3):
        looked_at = world.clock.now()
        due = min(world.store._reconcile_at.values())
        world.clock.advance(due - looked_at)
        waits.append(due - looked_at)
        report = world.reconcile()
        assert report.requeued == 1  # queued again every time, stuck or not
        world.jobs.take()  # and lost again (the bank is out; its letters are in the DLQ)
    assert report.stuck == 1
    assert waits[-1] > waits[-2] > waits[2]  # less often each time
    world.reconcile()
    world.clock.advance(min(world.store._reconcile_at.values()) - world.clock.now())
    world.reconcile()
    world.work()  # the bank is back
    assert _now(world, accepted).refunded_amount == 250


def test_an_authorization_past_its_hold_can_no_longer_be_captured(world: World) -> None:
    authorized = _paid(world, 1250, CaptureMethod.MANUAL)
    world.clock.advance(AUTHORIZATION_HOLD_SECONDS)
    with pytest.raises(NotCapturableError, match="expired"):
        _ops(world).capture(MERCHANT, MERCHANT, authorized.payment_id, None, "r")
    _ops(world).void(MERCHANT, MERCHANT, authorized.payment_id, "r")  # a void still may
