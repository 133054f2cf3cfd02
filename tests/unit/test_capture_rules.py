"""The rules of asking for a capture, a void or a refund (core/use_cases/payment_operations.py,
payment_changes.py, Payment.asks_capture, asks_void, with_settlement_done): what the
merchant is answered, what is queued for the worker, and what on-call sees when the queue
fails."""

from __future__ import annotations

from typing import Any

import pytest

from core.domain.jobs import PaymentJob
from core.domain.payment import CaptureMethod
from tests.unit.lifecycle_world import operations, paid, stored
from tests.unit.log_lines import lines_saying
from tests.unit.use_case_world import MERCHANT, World


@pytest.fixture
def world() -> World:
    return World()


def test_each_operation_is_queued_with_the_merchants_request_id_and_counted(
    world: World,
) -> None:
    # GIVEN a held authorization and an accepted payment
    held = paid(world, 1250, CaptureMethod.MANUAL)
    voided = paid(world, 1250, CaptureMethod.MANUAL)
    accepted = paid(world, 1000)
    # WHEN the merchant captures one, voids the other and refunds the third
    operations(world).capture(MERCHANT, MERCHANT, held.payment_id, 500, "req-capture")
    operations(world).void(MERCHANT, MERCHANT, voided.payment_id, "req-void")
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 10, None, "req-refund")
    # THEN each job is queued once, now, carrying the request id for the worker's log lines
    assert world.jobs.take() == [
        (PaymentJob(held.payment_id, "req-capture"), 0),
        (PaymentJob(voided.payment_id, "req-void"), 0),
        (PaymentJob(accepted.payment_id, "req-refund"), 0),
    ]
    # AND on-call's dashboard counts one of each
    asked = ("CapturesAsked", "VoidsAsked", "RefundsAsked", "OperationJobsNotQueued")
    assert {name: world.metrics.counts.get(name) for name in asked} == {
        "CapturesAsked": 1,
        "VoidsAsked": 1,
        "RefundsAsked": 1,
        "OperationJobsNotQueued": None,
    }


def test_an_operation_whose_job_cannot_be_queued_is_recorded_and_on_call_told(
    world: World, no_card_data_in_output: Any
) -> None:
    # GIVEN a held authorization, and a jobs queue that fails once
    held = paid(world, 1250, CaptureMethod.MANUAL)
    world.jobs.unavailable = 1
    # WHEN the merchant captures it
    asked = operations(world).capture(MERCHANT, MERCHANT, held.payment_id, None, "req-2")
    # THEN the merchant is answered with the capture on its way, and it is recorded
    assert asked.settlement is not None and stored(world, held).settlement == asked.settlement
    # AND on-call sees it counted and logged, by the payment, the request and the error type
    assert world.metrics.counts["OperationJobsNotQueued"] == 1
    (line,) = lines_saying(
        no_card_data_in_output, "operation recorded, its job not queued: the reconciler will"
    )
    assert (line["paymentId"], line["correlation_id"], line["errorType"]) == (
        held.payment_id,
        "req-2",
        "QueueUnavailableError",
    )
    # AND the reconciler queues it once it is overdue, and the worker captures it whole
    world.clock.advance(world.settings.reconcile_after_seconds + 1)
    world.reconcile()
    world.work()
    assert stored(world, held).captured_amount == 1250
