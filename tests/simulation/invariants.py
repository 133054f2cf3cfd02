"""The invariants of DESIGN.md the simulator checks after every step (`after_step`) and once
the system is quiet (`at_quiescence`). Each returns what it found broken, in words."""

from __future__ import annotations

from core.domain.payment import ALLOWED_TRANSITIONS, CaptureMethod, Payment, PaymentStatus
from core.domain.refunds import RefundStatus
from tests.simulation.world import CVV, PAN, World


class Watch:
    """What the last step changed, read from the store itself: one step is one port call,
    so each change seen is exactly one write."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._seen: dict[str, Payment] = {}
        self._sent = 0

    def after_step(self) -> list[str]:
        broken: list[str] = []
        world = self._world
        for payment_id, now in world.store._payments.items():
            before = self._seen.get(payment_id)
            if before is now:
                continue
            if before is not None:
                broken += _one_write(before, now)
            if now.status.is_final and now.card_ciphertext is not None:
                broken.append(f"{payment_id} is {now.status} and still holds its card")
            if PAN in repr(now) or (now.card_ciphertext and PAN.encode() in now.card_ciphertext):
                broken.append(f"{payment_id} holds the PAN in the clear")
            broken += _told_as_the_bank_answered(world, now)
        self._seen = dict(world.store._payments)
        for body in world.queue.sent[self._sent :]:
            if PAN in body or f'"{CVV}"' in body:
                broken.append(f"a queued message holds card data: {body[:60]}")
        self._sent = len(world.queue.sent)
        for payment_id, charges in world.bank.charges.items():
            if charges > 1:
                broken.append(f"{payment_id} was charged {charges} times")
        broken += _money_within_captured(world)
        broken += world.errors
        world.errors.clear()
        return broken


def _one_write(before: Payment, now: Payment) -> list[str]:
    """A state change raises the version by exactly one and follows the state machine;
    any other write keeps both."""
    pid = before.payment_id
    state_change = (
        now.status is not before.status
        or now.bank_checks != before.bank_checks
        or now.settlement != before.settlement
        or now.refunds != before.refunds
    )
    if before.status is PaymentStatus.CREATED and now.status is PaymentStatus.CREATED:
        return []  # an expired Created payment renewed: the same id lives again
    if state_change:
        if now.version != before.version + 1:
            return [f"{pid}: {before.status} v{before.version} -> {now.status} v{now.version}"]
        moved = now.status is not before.status or now.bank_checks != before.bank_checks
        if moved and now.status not in ALLOWED_TRANSITIONS[before.status]:
            return [f"{pid}: {before.status} -> {now.status} is not a transition"]
        return []
    if now.version != before.version:
        return [f"{pid}: version {before.version} -> {now.version} without a state change"]
    return []


def _money_within_captured(world: World) -> list[str]:
    """Invariant 7: the refunds that have not failed never sum past what the payment
    captured, on the payment and at the bank; the bank refunded no more than the refunds
    on the payment ask (each refund moves money once, by its own key) and captured no
    more than the payment says."""
    broken = []
    bank = world.bank
    for payment_id, payment in world.store._payments.items():
        captured = payment.captured_amount or 0
        held = sum(r.amount for r in payment.refunds if r.holds_money)
        if held > captured:
            broken.append(f"{payment_id}: refunds of {held} on a capture of {captured}")
        refunded = bank.total("refund", payment_id)
        if refunded > held or refunded > captured:
            broken.append(f"{payment_id}: the bank refunded {refunded}; asked {held}")
        if bank.total("capture", payment_id) > (payment.details.amount if payment.details else 0):
            broken.append(f"{payment_id}: the bank captured more than was authorized")
    return broken


def _told_as_the_bank_answered(world: World, payment: Payment) -> list[str]:
    """A final payment says what the bank decided for it: not Failed, Declined or
    Insufficient while the bank took its money, nor Accepted without it. (A payment goes
    final in a write of its own, so checking each payment as it changes covers them all.)"""
    if not payment.status.is_final:
        return []
    decided = world.bank.ledger.get(payment.payment_id)
    charged = decided is not None and decided.status is PaymentStatus.ACCEPTED
    held = payment.status in (PaymentStatus.ACCEPTED, PaymentStatus.VOIDED)
    if payment.capture_method is CaptureMethod.MANUAL:
        # Settled after the authorization: the bank did it, by the settlement's own key.
        kind = "void" if payment.status is PaymentStatus.VOIDED else "capture"
        key = f"{payment.payment_id}:{kind}"
        done = world.bank.operations
        if held and key not in done:
            return [f"{payment.payment_id} is {payment.status} but the bank has no {key}"]
    if charged == held:
        return []
    answer = decided.status if decided else "nothing"
    return [f"{payment.payment_id} is {payment.status} but the bank says {answer}"]


def at_quiescence(world: World) -> list[str]:
    """Nothing lost, nothing left in flight: every payment make-payment took is final (or its
    job is in the DLQ, which the operator has replayed until empty)."""
    broken = []
    for payment_id, payment in world.store._payments.items():
        if payment.has_work_in_flight:
            broken.append(f"{payment_id} is still {payment.status} at quiescence, work pending")
        succeeded = sum(r.amount for r in payment.refunds if r.status is RefundStatus.SUCCEEDED)
        if world.bank.total("refund", payment_id) != succeeded:
            broken.append(f"{payment_id}: the bank's refunds differ from the succeeded ones")
    for payment_id, submission in world.submissions.items():
        stored = world.store._payments.get(payment_id)
        settled = stored is not None and (
            stored.status.is_final or stored.status is PaymentStatus.AUTHORIZED
        )
        if submission.answered and not settled:
            broken.append(f"{payment_id} was answered 202 and is neither final nor Authorized")
    return broken + world.webhooks.card_data_sent(PAN)
