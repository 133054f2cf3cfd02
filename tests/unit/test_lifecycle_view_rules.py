"""What get-payment shows of the money lifecycle (core/domain/payment_view.py): the capture
method of a manual capture, a capture or void on its way, why an authorization was voided,
and the refunds."""

from __future__ import annotations

import pytest

from core.domain.payment import CaptureMethod
from tests.unit.lifecycle_world import operations, paid, shown
from tests.unit.use_case_world import MERCHANT, World

LIFECYCLE_FIELDS = ("captureMethod", "capturedAmount", "settling", "voidReason", "refundedAmount")


@pytest.fixture
def world() -> World:
    return World()


def _lifecycle(view: dict[str, object]) -> dict[str, object]:
    return {name: view[name] for name in LIFECYCLE_FIELDS if name in view}


def test_a_manual_capture_shows_its_method_and_the_capture_on_its_way(world: World) -> None:
    # GIVEN a held authorization
    held = paid(world, 1250, CaptureMethod.MANUAL)
    assert _lifecycle(shown(world, held)) == {"captureMethod": "manual"}
    # WHEN the merchant captures part of it THEN get-payment shows the capture on its way
    operations(world).capture(MERCHANT, MERCHANT, held.payment_id, 1000, "r")
    assert _lifecycle(shown(world, held)) == {"captureMethod": "manual", "settling": "capture"}
    # AND once done, what it captured
    world.work()
    assert _lifecycle(shown(world, held)) == {"captureMethod": "manual", "capturedAmount": 1000}


def test_a_void_shows_on_its_way_then_why_it_was_voided(world: World) -> None:
    # GIVEN a held authorization the merchant voids
    held = paid(world, 1250, CaptureMethod.MANUAL)
    operations(world).void(MERCHANT, MERCHANT, held.payment_id, "r")
    assert _lifecycle(shown(world, held)) == {"captureMethod": "manual", "settling": "void"}
    # WHEN the worker voids it THEN get-payment says the merchant asked for it
    world.work()
    view = shown(world, held)
    assert view["status"] == "Voided"
    assert _lifecycle(view) == {"captureMethod": "manual", "voidReason": "requested_by_merchant"}


def test_an_automatic_payment_shows_its_refunds_and_no_capture_method(world: World) -> None:
    # GIVEN an automatic payment, accepted whole
    accepted = paid(world, 1000)
    assert _lifecycle(shown(world, accepted)) == {"capturedAmount": 1000}
    assert "refunds" not in shown(world, accepted)
    # WHEN it is refunded twice, one of them declined (3)
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 250, None, "r")
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 3, None, "r")
    asked_at = int(world.clock.now())
    # THEN, until the bank answers, each is Pending since it was asked, nothing refunded yet
    pending = shown(world, accepted)
    assert pending["refundedAmount"] == 0
    assert [(r["status"], r["createdAt"], r["updatedAt"]) for r in pending["refunds"]] == [
        ("Pending", asked_at, asked_at)
    ] * 2
    world.clock.advance(1)
    world.work()
    # AND once answered, what was refunded and each refund, in the order asked
    view = shown(world, accepted)
    assert _lifecycle(view) == {"capturedAmount": 1000, "refundedAmount": 250}
    assert [(r["amount"], r["status"]) for r in view["refunds"]] == [
        (250, "Succeeded"),
        (3, "Failed"),
    ]
