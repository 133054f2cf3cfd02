"""The money lifecycle driven on the fakes (tests/unit/use_case_world.py): a payment taken
to the bank, and the merchant's capture, void and refund of it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.domain.payment import CaptureMethod, Payment
from core.domain.payment_view import PaymentView
from core.use_cases.payment_operations import PaymentOperations
from tests.unit.use_case_world import MERCHANT, SETTINGS, World


def operations(world: World) -> PaymentOperations:
    return world.services.payment_operations


def paid(
    world: World, amount: int = 1250, method: CaptureMethod = CaptureMethod.AUTOMATIC
) -> Payment:
    """Created, submitted and taken to the bank by the worker."""
    created = world.service.create_payment(MERCHANT, MERCHANT)
    command = world.command(created.payment_id, amount, capture_method=method)
    world.service.submit_payment(MERCHANT, command, "req-1")
    world.work()
    return stored(world, created)


def stored(world: World, payment: Payment) -> Payment:
    found = world.store.get(payment.payment_id)
    assert found is not None
    return found


def shown(world: World, payment: Payment) -> dict[str, Any]:
    """The payment as get-payment answers its merchant."""
    found = world.service.get_payment(MERCHANT, MERCHANT, payment.payment_id)
    return PaymentView.of(found).to_json()


def requeued_lost_refund(world: World, payment: Payment) -> tuple[int, int]:
    """A refund asked on an API instance whose clock runs 10 s behind the reconciler's, its
    job lost: the jobs the reconciler queues again once that refund is overdue by its own
    time, and the payments it reports stuck ((1, 0) unless something older than the refund
    holds the payment back or counts against it)."""
    world.clock.advance(-10)
    operations(world).refund(MERCHANT, MERCHANT, payment.payment_id, 100, None, "r")
    world.jobs.take()
    world.clock.advance(world.settings.reconcile_after_seconds + 1)
    report = world.reconcile()
    return report.requeued, report.stuck


def stalls_quickly() -> World:
    """A world whose reconciler reports a payment stuck after queueing its job once."""
    return World(settings=replace(SETTINGS, reconcile_max_attempts=1))


def done_after_a_miss(world: World, payment: Payment) -> dict[str, Any]:
    """The operation just asked of `payment` gets no answer from the bank and its job is
    lost (the merchant meanwhile reads why it waits); the reconciler queues it again and
    the worker finishes it: get-payment then."""
    world.bank.unavailable = 100
    with pytest.raises(Exception, match="unavailable"):
        world.work()
    assert shown(world, payment)["lastError"]
    world.bank.unavailable = 0
    world.clock.advance(world.settings.reconcile_after_seconds + 1)
    assert world.reconcile().requeued == 1
    world.work()
    return shown(world, payment)
