"""The merchant-facing use cases: create a payment, submit its card, read it back (the
listing is core/use_cases/payment_listing.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from core.domain.clock import Clock, epoch_seconds
from core.domain.errors import (
    ConcurrentUpdateError,
    PaymentConflictError,
    PaymentExistsError,
    QueueUnavailableError,
    TransitionRejectedError,
)
from core.domain.jobs import PaymentJob
from core.domain.payment import CREATED_VERSION, Payment, PaymentStatus
from core.domain.polling import poll_after_seconds
from core.domain.ports import CardVault, JobPublisher, PaymentStore
from core.domain.submission import SubmitCard
from core.domain.tenancy import ensure_caller_is
from core.observability import logger
from core.use_cases.visible_payments import payment_not_found, visible_payment

# Payment ids derived from an Idempotency-Key's claim live in a namespace of their own.
_CLAIMED_PAYMENT_IDS = uuid.UUID("6f1c2d4e-8a3b-5c7d-9e0f-a1b2c3d4e5f6")


class PaymentService:
    def __init__(
        self,
        *,
        payments: PaymentStore,
        vault: CardVault,
        jobs: JobPublisher,
        clock: Clock,
        payment_ttl_seconds: int,
        recheck_base_seconds: int,
        recheck_cap_seconds: int,
    ) -> None:
        self._payments = payments
        self._vault = vault
        self._jobs = jobs
        self._clock = clock
        self._ttl = payment_ttl_seconds
        self._recheck = (recheck_base_seconds, recheck_cap_seconds)

    def create_payment(self, caller: str, merchant_id: str, claim_id: str | None = None) -> Payment:
        """A new Created payment. With the claim of an Idempotency-Key, its id is derived
        from the claim, so a retry that takes over the claim finds the same payment."""
        ensure_caller_is(caller, merchant_id)
        now = epoch_seconds(self._clock)
        payment_id = uuid.uuid5(_CLAIMED_PAYMENT_IDS, claim_id) if claim_id else uuid.uuid4()
        payment = Payment(
            payment_id=str(payment_id),
            merchant_id=merchant_id,
            status=PaymentStatus.CREATED,
            version=CREATED_VERSION,
            created_at=now,
            updated_at=now,
            expires_at=now + self._ttl,
        )
        try:
            self._payments.add(payment)
        except PaymentExistsError:
            # Our own write whose answer was lost, or the payment an earlier request with
            # the same Idempotency-Key created: that payment, never a second one.
            existing = self._payments.get(payment.payment_id)
            if existing is None or existing.merchant_id != caller:
                raise
            if existing.is_expired(now):
                # It expired unused (never paid): the same id lives again, for 10 minutes.
                self._payments.renew_expired(existing, payment)
                return payment
            return existing
        return payment

    def submit_payment(self, caller: str, command: SubmitCard, correlation_id: str) -> Payment:
        """Created -> Processing, then queue the job. Repeating the same request answers the
        same and queues nothing; a different request for the same payment is a conflict.

        If the job cannot be queued after retries, QueueUnavailableError (503) is raised and
        the payment stays Processing, marked so: the merchant's retry queues it, and the
        reconciler finds it on the in-flight index anyway (that closes the window between
        the DB write and the enqueue, a crash included).
        """
        ensure_caller_is(caller, command.merchant_id)
        details = command.details
        ciphertext = self._vault.encrypt(
            command.card, payment_id=command.payment_id, merchant_id=command.merchant_id
        )
        now = epoch_seconds(self._clock)
        try:
            payment = self._payments.mark_processing(
                payment_id=command.payment_id,
                merchant_id=command.merchant_id,
                details=details,
                card_ciphertext=ciphertext,
                correlation_id=correlation_id,
                now=now,
            )
        except TransitionRejectedError as rejected:
            current = self._answer_repeat(rejected.current, command, now)
            if current.enqueue_failed:
                self._queue(current, PaymentJob(current.payment_id, correlation_id))
            return current
        self._queue(payment, PaymentJob(payment.payment_id, correlation_id))
        return payment

    def _queue(self, payment: Payment, job: PaymentJob) -> None:
        try:
            self._jobs.publish(job)
        except QueueUnavailableError:
            self._mark(self._payments.note_enqueue_failed, payment)
            raise
        if payment.enqueue_failed:
            self._mark(self._payments.note_enqueued, payment)

    @staticmethod
    def _mark(note: Callable[[Payment], None], payment: Payment) -> None:
        """A best-effort note: if it fails, the reconciler still finds the payment."""
        try:
            note(payment)
        except ConcurrentUpdateError:
            pass
        except Exception as error:
            logger.warning("could not note the enqueue", extra={"errorType": type(error).__name__})

    def _answer_repeat(self, current: Payment | None, command: SubmitCard, now: int) -> Payment:
        if current is None or not current.visible_to(command.merchant_id, now):
            raise payment_not_found(command.payment_id)
        if current.status is PaymentStatus.CREATED:
            # Still Created yet the update was refused: it expired between our checks.
            raise payment_not_found(command.payment_id)
        if current.details is None or not command.repeats(current.details.request_digest):
            raise PaymentConflictError(
                f"payment {command.payment_id} was already submitted with different details"
            )
        return current

    def get_payment(self, caller: str, merchant_id: str, payment_id: str) -> Payment:
        return visible_payment(
            self._payments, caller, merchant_id, payment_id, epoch_seconds(self._clock)
        )

    def poll_after_seconds(self, payment: Payment) -> int | None:
        """When the merchant polling this payment may find it changed (get-payment's
        Retry-After); None once final."""
        base, cap = self._recheck
        return poll_after_seconds(
            payment, epoch_seconds(self._clock), recheck_base=base, recheck_cap=cap
        )
