"""Deliberately broken variants of paygate, selectable only inside the simulator: each
breaks one guarantee, and the simulator must catch each within a bounded number of seeds
(tests/simulation/test_mutants.py names the seed that does)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from core.domain.errors import ConcurrentUpdateError
from core.domain.payment import BankOutcome, NotRefundableError, Payment, PaymentStatus
from core.domain.ports import AuthorizationRequest, StalledPayment
from core.domain.refunds import Refund, RefundStatus, new_refund_id
from core.use_cases.payment_operations import PaymentOperations
from tests.fakes import InMemoryPaymentStore


class UnconditionalWrites(InMemoryPaymentStore):
    """A state change written without its version condition: the last writer wins."""

    def save_transition(self, before: Payment, after: Payment) -> None:
        if after.payment_id not in self._payments:
            raise ConcurrentUpdateError(after.payment_id)
        self._put(after)


class SkipsAShard(InMemoryPaymentStore):
    """The in-flight index read with one shard left out: payments whose id falls there are
    never looked at by the reconciler."""

    def stalled_pages(self, now: int) -> Iterator[list[StalledPayment]]:
        for page in super().stalled_pages(now):
            yield [s for s in page if int(s.payment_id[-1], 16) % 4 != 0]


class KeepsTheCard(InMemoryPaymentStore):
    """The bank's answer recorded, the card ciphertext (CVV included) kept beside it."""

    def save_transition(self, before: Payment, after: Payment) -> None:
        super().save_transition(before, replace(after, card_ciphertext=before.card_ciphertext))


class KeylessBank:
    """Each authorization sent with a fresh idempotency key, not the payment's."""

    def __init__(self, bank: Any) -> None:
        self._bank = bank
        self._calls = itertools.count()

    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        key = f"{request.payment_id}/{next(self._calls)}"
        outcome: BankOutcome = self._bank.authorize(request, idempotency_key=key)
        return outcome

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bank, name)


class UncheckedRefunds(PaymentOperations):
    """A refund written without the refundable-amount check: what is left to refund is
    never read."""

    def refund(
        self,
        caller: str,
        merchant_id: str,
        payment_id: str,
        amount: int,
        reason: str | None,
        correlation_id: str,
        claim_id: str | None = None,
    ) -> tuple[Payment, Refund]:
        now = int(self._clock.now())
        payment = self._visible(caller, merchant_id, payment_id, now)
        if payment.status is not PaymentStatus.ACCEPTED:
            raise NotRefundableError("not captured")
        refund = Refund(new_refund_id(), amount, RefundStatus.PENDING, now, now, reason)
        after = replace(
            payment, version=payment.version + 1, updated_at=now, refunds=(*payment.refunds, refund)
        )
        self._payments.save_transition(payment, after)
        return self._queued(after, correlation_id, "RefundsAsked"), refund


def _same(bank: Any) -> Any:
    return bank


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str
    store: type[InMemoryPaymentStore] = InMemoryPaymentStore
    bank: Callable[[Any], Any] = _same
    # The stream's record acknowledged before its event is published.
    commits_first: bool = False
    operations: type[PaymentOperations] = PaymentOperations


MUTANTS = {
    mutant.name: mutant
    for mutant in (
        Mutant("unconditional-write", "optimistic locking", store=UnconditionalWrites),
        Mutant("reconciler-skips-a-shard", "nothing lost", store=SkipsAShard),
        Mutant("card-kept-after-final", "card data erased when final", store=KeepsTheCard),
        Mutant("bank-call-without-idempotency-key", "charged at most once", bank=KeylessBank),
        Mutant("event-dropped-on-a-crash", "one event per status change", commits_first=True),
        Mutant(
            "refund-without-refundable-check",
            "money never exceeds what was captured",
            operations=UncheckedRefunds,
        ),
    )
}
