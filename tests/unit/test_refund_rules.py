"""The rules of a refund's life (core/domain/refunds.py, Payment.asks_refund and
with_refund_outcome) as its merchant reads them in get-payment: when and how the bank
answered, and that an answered refund stays answered."""

from __future__ import annotations

import pytest

from core.domain.refunds import REFUND_DECLINED, REFUND_ID, REFUND_SUCCEEDED
from tests.unit.lifecycle_world import operations, paid, shown, stored
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
