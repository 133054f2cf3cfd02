"""The rules of asking for a capture, a void or a refund (core/use_cases/payment_operations.py,
payment_changes.py, Payment.asks_capture, asks_void, with_settlement_done): what the
merchant is answered, what is queued for the worker, and what on-call sees when the queue
fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from core.domain.errors import ConcurrentUpdateError, PaymentBusyError, PaymentNotFoundError
from core.domain.jobs import PaymentJob
from core.domain.payment import (
    AUTHORIZATION_HOLD_SECONDS,
    CaptureExceedsAuthorizedError,
    CaptureMethod,
    IllegalTransitionError,
    NotCapturableError,
    Payment,
    RefundExceedsCapturedError,
)
from core.domain.submission import DIGEST_FORMAT, RequestDigests
from core.use_cases.payment_changes import CHANGE_ATTEMPTS
from tests.fakes import InMemoryPaymentStore
from tests.unit.lifecycle_world import (
    done_after_a_miss,
    operations,
    paid,
    requeued_lost_refund,
    stalls_quickly,
    stored,
)
from tests.unit.log_lines import lines_saying
from tests.unit.test_known_answers import DIGESTED_DOCUMENT, SUBMISSION, _ShowingMac
from tests.unit.use_case_world import MERCHANT, World


class RacingStore(InMemoryPaymentStore):
    """Before each conditional write, `first` (if any) lands: another writer won the race."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.first: list[Callable[[InMemoryPaymentStore], None]] = []
        self.tries = 0

    def save_transition(self, before: Payment, after: Payment) -> None:
        self.tries += 1
        if self.first:
            self.first.pop(0)(self)
        super().save_transition(before, after)


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


def test_a_capture_is_refused_with_a_reason_the_merchant_can_act_on(world: World) -> None:
    # GIVEN a payment not yet paid, an accepted one, and a held authorization of 1250
    created = world.service.create_payment(MERCHANT, MERCHANT)
    accepted = paid(world, 1000)
    held = paid(world, 1250, CaptureMethod.MANUAL)
    capture = operations(world).capture
    # WHEN the merchant captures each THEN the refusals say why
    with pytest.raises(NotCapturableError, match=r"^the payment is Created, not Authorized$"):
        capture(MERCHANT, MERCHANT, created.payment_id, None, "r")
    with pytest.raises(NotCapturableError, match=r"^the payment is Accepted, not Authorized$"):
        capture(MERCHANT, MERCHANT, accepted.payment_id, None, "r")
    with pytest.raises(
        CaptureExceedsAuthorizedError,
        match=r"^a capture takes at most the authorized amount \(1250\)$",
    ):
        capture(MERCHANT, MERCHANT, held.payment_id, 1251, "r")
    # AND the whole authorization, to the unit, may be captured
    capture(MERCHANT, MERCHANT, held.payment_id, 1250, "r")
    world.work()
    assert stored(world, held).captured_amount == 1250


def test_a_void_records_when_it_was_asked_and_a_worker_with_nothing_asked_refuses(
    world: World,
) -> None:
    # GIVEN a held authorization
    held = paid(world, 1250, CaptureMethod.MANUAL)
    world.clock.advance(30)
    # WHEN the merchant voids it
    asked = operations(world).void(MERCHANT, MERCHANT, held.payment_id, "r")
    # THEN the void is recorded as asked now
    assert asked.settlement is not None
    assert asked.settlement.requested_at == int(world.clock.now())
    # AND a payment with no capture or void asked cannot be settled by the worker
    with pytest.raises(IllegalTransitionError, match=r"^no capture or void was asked for$"):
        held.with_settlement_done(int(world.clock.now()))


def test_a_capture_the_bank_missed_once_reads_clean_once_done() -> None:
    # GIVEN a capture of a held authorization
    world = stalls_quickly()
    held = paid(world, 1250, CaptureMethod.MANUAL)
    operations(world).capture(MERCHANT, MERCHANT, held.payment_id, None, "r")
    # WHEN the bank misses it once, and the reconciler queues it again
    view = done_after_a_miss(world, held)
    # THEN get-payment counts only the bank's answers (the authorization) and no failure
    assert (view["status"], view["attempts"], view.get("lastError")) == ("Accepted", 1, None)
    # AND a refund whose job is lost later is queued again on its own time: not reported
    # stuck, nor held back by the reconciler's look at the earlier job
    assert requeued_lost_refund(world, held) == (1, 0)


def test_a_refund_asked_while_another_write_lands_is_decided_again_on_it() -> None:
    # GIVEN an accepted payment of 1000
    world = World(store_class=RacingStore)
    store: RacingStore = world.store  # type: ignore[assignment]
    accepted = paid(world, 1000)
    # WHEN a refund of 600 lands just before the merchant's refund of 500 is written
    store.first.append(lambda _: _refund(world, accepted, 600))
    # THEN the merchant's refund is refused on what is left, and the other one stands
    with pytest.raises(RefundExceedsCapturedError, match=r"^at most 400 of the captured 1000"):
        operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 500, None, "r")
    assert [r.amount for r in stored(world, accepted).refunds] == [600]
    # AND a refund that fits lands on top of the other write
    store.first.append(lambda _: _refund(world, accepted, 100))
    operations(world).refund(MERCHANT, MERCHANT, accepted.payment_id, 300, None, "r")
    assert [r.amount for r in stored(world, accepted).refunds] == [600, 100, 300]


def _refund(world: World, payment: Payment, amount: int) -> None:
    operations(world).refund(MERCHANT, MERCHANT, payment.payment_id, amount, None, "r")


def _forget(store: InMemoryPaymentStore, payment: Payment) -> None:
    del store._payments[payment.payment_id]


def test_a_payment_that_keeps_changing_or_vanishes_is_answered_busy_or_not_found() -> None:
    # GIVEN a held authorization whose every write loses a race
    world = World(store_class=RacingStore)
    store: RacingStore = world.store  # type: ignore[assignment]
    held = paid(world, 1250, CaptureMethod.MANUAL)
    always_lost = ConcurrentUpdateError(held.payment_id)

    def lose(_: InMemoryPaymentStore) -> None:
        raise always_lost

    store.first.extend([lose] * (CHANGE_ATTEMPTS + 1))
    store.tries = 0
    # WHEN the merchant voids it THEN it is told to retry shortly, after CHANGE_ATTEMPTS tries
    with pytest.raises(PaymentBusyError, match=f"^payment {held.payment_id} is changing: retry"):
        operations(world).void(MERCHANT, MERCHANT, held.payment_id, "r")
    assert store.tries == CHANGE_ATTEMPTS
    # AND a payment gone from the table while the void was written is not found
    store.first = [lambda other: _forget(other, held)]
    with pytest.raises(PaymentNotFoundError, match=r"^the payment is gone$"):
        operations(world).void(MERCHANT, MERCHANT, held.payment_id, "r")
    assert world.store.get(held.payment_id) is None


def test_a_manual_capture_is_part_of_the_request_digest_by_its_name_and_value() -> None:
    # WHEN a make-payment request asking for a manual capture is digested
    manual = replace(SUBMISSION, capture_method=CaptureMethod.MANUAL)
    document = RequestDigests(_ShowingMac()).digested(manual).digest
    # THEN the document MACed says so, in the canonical form (an automatic one never does)
    assert document == DIGEST_FORMAT + DIGESTED_DOCUMENT.replace(
        '"billingAddress":"1 Main St",', '"billingAddress":"1 Main St","captureMethod":"manual",'
    )


def test_an_authorization_past_its_7_day_hold_is_not_captured(world: World) -> None:
    # GIVEN a held authorization 7 days old (the reconciler has not voided it yet)
    held = paid(world, 1250, CaptureMethod.MANUAL)
    world.clock.advance(AUTHORIZATION_HOLD_SECONDS)
    # WHEN the merchant captures it THEN it is refused, saying why
    with pytest.raises(
        NotCapturableError, match=r"^the authorization expired after 7 days: it is being voided$"
    ):
        operations(world).capture(MERCHANT, MERCHANT, held.payment_id, None, "r")


@pytest.mark.parametrize("settle", ["capture", "void"])
def test_a_captured_or_voided_authorization_is_never_looked_at_again(
    world: World, settle: str
) -> None:
    # GIVEN a held authorization captured (or voided) at once
    held = paid(world, 1250, CaptureMethod.MANUAL)
    if settle == "capture":
        operations(world).capture(MERCHANT, MERCHANT, held.payment_id, None, "r")
    else:
        operations(world).void(MERCHANT, MERCHANT, held.payment_id, "r")
    world.work()
    # WHEN the reconciler runs after its 7-day hold would have ended
    world.clock.advance(AUTHORIZATION_HOLD_SECONDS + 1)
    report = world.reconcile()
    # THEN it finds nothing to look at
    assert (report.stalled, report.requeued) == (0, 0)
