"""The rules of a refund's life (core/domain/refunds.py, Payment.asks_refund and
with_refund_outcome) as its merchant reads them in get-payment: when and how the bank
answered, and that an answered refund stays answered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.payment import (
    CaptureMethod,
    IllegalTransitionError,
    NotRefundableError,
    RefundExceedsCapturedError,
    TooManyRefundsError,
)
from core.domain.refunds import REFUND_DECLINED, REFUND_ID, REFUND_SUCCEEDED, Refund, RefundStatus
from tests.unit.lifecycle_world import (
    done_after_a_miss,
    operations,
    paid,
    requeued_lost_refund,
    shown,
    stalls_quickly,
    stored,
)
from tests.unit.use_case_world import MERCHANT, World


@pytest.fixture
def world() -> World:
    return World()


def test_a_declined_refund_shows_why_and_when_the_bank_answered(world: World) -> None:
    # GIVEN an accepted payment and a refund of 3 (the bank declines that amount)
    accepted = paid(world, 1000)
    asked_at = int(world.clock.now())
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 3, "damaged", "r")
    # WHEN the worker asks the bank 7 seconds later
    world.clock.advance(7)
    world.work()
    # THEN get-payment shows the refund failed, why, and when it was asked and answered
    (refund,) = shown(world, accepted)["refunds"]
    assert refund == {
        "refundId": refund["refundId"],
        "amount": 3,
        "status": "Failed",
        "reason": "damaged",
        "failCode": "refund_declined",
        "failReason": "the bank declined the refund",
        "createdAt": asked_at,
        "updatedAt": asked_at + 7,
    }


def test_a_refund_that_succeeded_shows_no_failure_and_its_answer_time(world: World) -> None:
    # GIVEN an accepted payment and a refund of 250
    accepted = paid(world, 1000)
    asked_at = int(world.clock.now())
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 250, None, "r")
    # WHEN the worker asks the bank 5 seconds later
    world.clock.advance(5)
    world.work()
    # THEN the refund reads Succeeded, answered then, with no fail code or reason
    (refund,) = shown(world, accepted)["refunds"]
    assert REFUND_ID.match(refund["refundId"])
    assert refund == {
        "refundId": refund["refundId"],
        "amount": 250,
        "status": "Succeeded",
        "createdAt": asked_at,
        "updatedAt": asked_at + 5,
    }


def test_an_answered_refund_is_never_answered_again(world: World) -> None:
    # GIVEN a refund the bank declined
    accepted = paid(world, 1000)
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 3, None, "r")
    world.work()
    payment = stored(world, accepted)
    (declined,) = payment.refunds
    # WHEN another answer for it comes (a late success)
    # THEN it is refused, naming the refund: final is final
    with pytest.raises(ValueError, match=f"refund {declined.refund_id} is Failed: final is final"):
        payment.with_refund_outcome(declined.refund_id, REFUND_SUCCEEDED, payment.updated_at)
    assert payment.refunds[0].fail_code == REFUND_DECLINED.fail_code


def test_a_refund_is_refused_with_a_reason_the_merchant_can_act_on(world: World) -> None:
    # GIVEN a held authorization, and an accepted payment of 1000 with 600 refunded
    held = paid(world, 1250, CaptureMethod.MANUAL)
    accepted = paid(world, 1000)
    refund = operations(world).refund
    refund(MERCHANT, MERCHANT, accepted.payment_id, 600, None, "r")
    # WHEN the merchant refunds what cannot be THEN each refusal says why
    with pytest.raises(
        NotRefundableError,
        match=r"^the payment is Authorized: only a captured payment can be refunded$",
    ):
        refund(MERCHANT, MERCHANT, held.payment_id, 1, None, "r")
    with pytest.raises(
        RefundExceedsCapturedError,
        match=r"^at most 400 of the captured 1000 can still be refunded$",
    ):
        refund(MERCHANT, MERCHANT, accepted.payment_id, 401, None, "r")
    for _ in range(49):
        refund(MERCHANT, MERCHANT, accepted.payment_id, 1, None, "r")
    with pytest.raises(TooManyRefundsError, match=r"^a payment holds at most 50 refunds$"):
        refund(MERCHANT, MERCHANT, accepted.payment_id, 1, None, "r")


def test_an_accepted_payment_that_recorded_no_capture_is_not_refundable(world: World) -> None:
    # GIVEN an Accepted payment with no captured amount recorded (accepted before paygate
    # recorded captures)
    accepted = replace(paid(world, 1000), captured_amount=None)
    asked = Refund("rf_1", 1, RefundStatus.PENDING, 0, 0)
    # WHEN a refund is asked THEN it is refused as not refundable, not as too large
    with pytest.raises(NotRefundableError, match=r"^the payment is Accepted: only a captured"):
        accepted.asks_refund(asked, accepted.updated_at)


def test_an_answer_for_a_refund_the_payment_never_had_is_refused(world: World) -> None:
    # GIVEN an accepted payment with no refund
    accepted = paid(world, 1000)
    # WHEN an answer comes for an unknown refund THEN it is refused, naming the refund
    with pytest.raises(IllegalTransitionError, match=r"^no refund rf_unknown$"):
        accepted.with_refund_outcome("rf_unknown", REFUND_SUCCEEDED, accepted.updated_at)


def test_a_refund_the_bank_missed_once_reads_clean_once_answered() -> None:
    # GIVEN a refund
    world = stalls_quickly()
    accepted = paid(world, 1000)
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 100, None, "r")
    # WHEN the bank misses it once, and the reconciler queues it again
    view = done_after_a_miss(world, accepted)
    # THEN get-payment counts only the bank's answers to the authorization, no failure
    assert (view["refundedAmount"], view["attempts"], view.get("lastError")) == (100, 1, None)
    # AND a refund whose job is lost later is queued again on its own time: not reported
    # stuck, nor held back by the reconciler's look at the earlier job
    assert requeued_lost_refund(world, accepted) == (1, 0)


def test_a_refund_whose_job_keeps_getting_lost_is_queued_again_twice_as_late_each_time(
    world: World,
) -> None:
    # GIVEN a refund whose job is lost, queued again by the reconciler reconcileAfter
    # later, lost again, queued again reconcileAfter later, and lost again
    accepted = paid(world, 1000)
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 100, None, "r")
    after = world.settings.reconcile_after_seconds
    world.clock.advance(1)
    for _ in range(2):
        world.jobs.take()
        world.clock.advance(after)
        assert world.reconcile().requeued == 1
    world.jobs.take()
    # WHEN the reconciler runs just before, then at, twice reconcileAfter since then
    world.clock.advance(2 * after - 1)
    early = world.reconcile()
    world.clock.advance(1)
    due = world.reconcile()
    # THEN it is queued again only then
    assert (early.stalled, early.requeued, due.requeued) == (0, 0, 1)
