"""What a merchant asks of a payment after its authorization: capture it (all or part), void
it, refund what it captured. Each is recorded on the payment first, in one conditional write
that checks the rule it is bound by (Payment.asks_capture, asks_void, asks_refund: a refund
never takes the refunds past the captured amount, under any concurrency), and queued
second: the worker asks the bank, once per operation's own idempotency key. A job that
cannot be queued is not an error the merchant sees (the operation is recorded, and a retry
without an Idempotency-Key could ask a second refund): the reconciler finds the payment on
the in-flight index and queues it."""

from __future__ import annotations

import uuid

from core.domain.clock import Clock, epoch_seconds
from core.domain.jobs import PaymentJob
from core.domain.payment import Payment
from core.domain.ports import JobPublisher, Metrics, PaymentStore
from core.domain.refunds import Refund, RefundStatus, new_refund_id
from core.observability import CORRELATION_KEY, logger
from core.use_cases.payment_changes import apply_change
from core.use_cases.visible_payments import visible_payment

# Refund ids derived from an Idempotency-Key's claim live in a namespace of their own.
_CLAIMED_REFUND_IDS = uuid.UUID("3b8e0f6a-2c4d-5e7f-8a9b-0c1d2e3f4a5b")


class PaymentOperations:
    def __init__(
        self, *, payments: PaymentStore, jobs: JobPublisher, clock: Clock, metrics: Metrics
    ) -> None:
        self._payments = payments
        self._jobs = jobs
        self._clock = clock
        self._metrics = metrics

    def capture(
        self,
        caller: str,
        merchant_id: str,
        payment_id: str,
        amount: int | None,
        correlation_id: str,
    ) -> Payment:
        """Authorized -> (the worker) Accepted with `amount` captured (all if None)."""
        now = epoch_seconds(self._clock)
        payment = self._visible(caller, merchant_id, payment_id, now)
        asked = apply_change(self._payments, payment, lambda p: p.asks_capture(amount, now))
        return self._queued(asked, correlation_id, "CapturesAsked")

    def void(self, caller: str, merchant_id: str, payment_id: str, correlation_id: str) -> Payment:
        """Authorized -> (the worker) Voided."""
        now = epoch_seconds(self._clock)
        payment = self._visible(caller, merchant_id, payment_id, now)
        asked = apply_change(self._payments, payment, lambda p: p.asks_void(now))
        return self._queued(asked, correlation_id, "VoidsAsked")

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
        """A Pending refund of `amount`. With the claim of an Idempotency-Key its id comes
        from the claim: a retry that takes over the claim finds the same refund, never a
        second one."""
        now = epoch_seconds(self._clock)
        refund_id = _refund_id(claim_id)
        asked = Refund(refund_id, amount, RefundStatus.PENDING, now, now, reason)
        payment = self._visible(caller, merchant_id, payment_id, now)
        recorded = apply_change(
            self._payments,
            payment,
            lambda p: None if p.refund(refund_id) else p.asks_refund(asked, now),
        )
        refund = recorded.refund(refund_id)
        if refund is None:
            raise AssertionError("the refund just written is on the payment")
        return self._queued(recorded, correlation_id, "RefundsAsked"), refund

    def _visible(self, caller: str, merchant_id: str, payment_id: str, now: int) -> Payment:
        return visible_payment(self._payments, caller, merchant_id, payment_id, now)

    def _queued(self, payment: Payment, correlation_id: str, metric: str) -> Payment:
        self._metrics.count(metric)
        try:
            self._jobs.publish(PaymentJob(payment.payment_id, correlation_id))
        except Exception as error:
            logger.warning(
                "operation recorded, its job not queued: the reconciler will",
                extra={
                    "paymentId": payment.payment_id,
                    CORRELATION_KEY: correlation_id,
                    "errorType": type(error).__name__,
                },
            )
            self._metrics.count("OperationJobsNotQueued")
        return payment


def _refund_id(claim_id: str | None) -> str:
    if claim_id is None:
        return new_refund_id()
    return f"rf_{uuid.uuid5(_CLAIMED_REFUND_IDS, claim_id).hex}"
