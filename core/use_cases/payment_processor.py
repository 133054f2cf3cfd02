"""What the worker does with one job: take a submitted payment to the bank and record the
outcome, exactly once, whatever the duplicates, retries and crashes ("Charged at most
once", "Nothing lost", "Optimistic locking" and "Card data" in docs/guarantees.md).

The card is decrypted only for the first authorization. Once the bank has answered, even
Pending, the card is erased; a Pending payment is checked again by its idempotency key. A
payment still in flight at its resolution bound is settled with the bank: its outcome if the
bank decided one, else the bank voids it and it ends Failed.

A job of a payment already answered does what the merchant asked of it since
(core/use_cases/payment_operations.py): its capture or void, then its Pending refunds, each
by its own idempotency key at the bank ("Money never exceeds what was captured").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from core.domain.clock import Clock, epoch_seconds
from core.domain.errors import BankUnavailableError, ConcurrentUpdateError, UnreadablePaymentError
from core.domain.jobs import PaymentJob
from core.domain.payment import (
    PROCESSING_FAILED,
    BankOutcome,
    Payment,
    PaymentStatus,
    Settlement,
    SettlementKind,
)
from core.domain.polling import recheck_delay_seconds
from core.domain.ports import (
    AuthorizationRequest,
    Bank,
    CardVault,
    JobPublisher,
    Metrics,
    PaymentStore,
)
from core.domain.reconcile_policy import ReconcilePolicy
from core.domain.refunds import Refund, RefundStatus
from core.observability import CORRELATION_KEY, logger
from core.settings import Settings
from core.use_cases.payment_changes import apply_change

T = TypeVar("T")
R = TypeVar("R")

# A failure note is an UpdateItem on the item whose write just failed: under throttling that
# lasts, it is throttled too. It is tried again a few times, with jittered back-off, never
# past the job's deadline (an attempt may take about NOTE_ATTEMPT_SECONDS).
NOTE_ATTEMPTS = 5
NOTE_ATTEMPT_SECONDS = 1.0
NOTE_FIRST_WAIT_SECONDS = 0.05
NOTE_MAX_WAIT_SECONDS = 0.5


class PoisonJobError(Exception):
    """A job that can never succeed as it is: it fails until the DLQ takes it."""


class JobResult(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    LOST_RACE = "lost_race"


@dataclass(frozen=True)
class ProcessedJob:
    payment_id: str
    result: JobResult
    status: PaymentStatus


class StopBeforeDeadline(stop_base):
    """Never start an attempt that could not finish before the deadline."""

    def __init__(
        self, deadline: float, attempt_seconds: float, monotonic: Callable[[], float]
    ) -> None:
        self._deadline = deadline
        self._attempt_seconds = attempt_seconds
        self._monotonic = monotonic

    def __call__(self, retry_state: RetryCallState) -> bool:
        next_start = self._monotonic() + (retry_state.upcoming_sleep or 0)
        return next_start + self._attempt_seconds > self._deadline


def error_type(error: BaseException) -> str:
    return type(error).__name__


def failure_reason(error: BaseException, describe: Callable[[BaseException], str]) -> str:
    """Why processing failed, for ops: our own errors say it in words, others as
    `describe` (the adapters' reading: an AWS operation and error code) says; nothing else
    is quoted (a message could carry request data)."""
    if isinstance(error, BankUnavailableError | PoisonJobError | UnreadablePaymentError):
        return str(error)
    return describe(error)


class PaymentProcessor:
    def __init__(
        self,
        *,
        payments: PaymentStore,
        vault: CardVault,
        bank: Bank,
        jobs: JobPublisher,
        clock: Clock,
        settings: Settings,
        metrics: Metrics,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        describe: Callable[[BaseException], str] = error_type,
    ) -> None:
        self._payments = payments
        self._vault = vault
        self._bank = bank
        self._jobs = jobs
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._monotonic = monotonic
        self._sleep = sleep
        self._describe = describe
        self._policy = ReconcilePolicy.of(settings)

    def process(self, job: PaymentJob, *, deadline: float) -> ProcessedJob:
        """Process one job; `deadline` (monotonic seconds) bounds the bank retries.

        Raises to leave the job on the queue for redelivery (and in the end the DLQ); the
        reason is noted on the payment for `paygate dlq list`.
        """
        log = {"paymentId": job.payment_id, CORRELATION_KEY: job.correlation_id}
        try:
            payment = self._payments.get(job.payment_id)
        except UnreadablePaymentError as error:
            raise PoisonJobError(str(error)) from None
        if payment is None:
            raise PoisonJobError(f"no payment {job.payment_id}")
        if not payment.has_work_in_flight:
            if payment.status is PaymentStatus.CREATED:
                raise PoisonJobError(f"payment {job.payment_id} is Created, not in flight")
            logger.info("job for a payment with nothing to do acknowledged", extra=log)
            self._metrics.count("DuplicateJobs")
            return ProcessedJob(payment.payment_id, JobResult.DUPLICATE, payment.status)
        if not payment.status.is_in_flight:
            return self._move_money(payment, deadline, log)
        try:
            outcome = self._ask_bank(payment, deadline, log)
        except Exception as error:
            self._note_failure(payment, self.reason_of(error), deadline, log)
            raise
        try:
            return self._record(payment, outcome, job, log)
        except Exception as error:
            # The bank answered (a replay asks it again by the same key, and gets the same
            # answer); what failed is writing it down, and the DLQ must say so.
            reason = f"the bank's answer ({outcome.status.value}) was not recorded: "
            self._note_failure(payment, reason + self.reason_of(error), deadline, log)
            raise

    def _move_money(self, payment: Payment, deadline: float, log: dict[str, str]) -> ProcessedJob:
        """What a merchant asked of an authorized or captured payment: the capture or void,
        then every Pending refund, each asked of the bank by its own idempotency key (a
        repeat moves no money twice) and its answer recorded as a change of its own. One
        refund the bank cannot answer does not hold up the others: each is tried, and the
        job fails (to be delivered again) after, if any did."""
        failed: Exception | None = None
        try:
            if payment.settlement is not None:
                payment = self._settle_authorization(payment, payment.settlement, deadline, log)
        except Exception as error:
            failed = error
        for refund in payment.pending_refunds if failed is None else []:
            try:
                payment = self._refund(payment, refund, deadline, log)
            except Exception as error:
                failed = failed or error
                logger.warning(
                    "refund not answered; the others go on",
                    extra=log | {"refundId": refund.refund_id, "reason": self.reason_of(error)},
                )
        if failed is not None:
            self._note_failure(payment, self.reason_of(failed), deadline, log)
            raise failed
        return ProcessedJob(payment.payment_id, JobResult.RECORDED, payment.status)

    def _settle_authorization(
        self, payment: Payment, settlement: Settlement, deadline: float, log: dict[str, str]
    ) -> Payment:
        key = settlement.bank_key(payment.payment_id)
        if settlement.kind is SettlementKind.CAPTURE:
            self._with_retries(
                lambda amount: self._bank.capture(payment.payment_id, amount, idempotency_key=key),
                settlement.amount,
                deadline,
                log,
            )
        else:
            self._with_retries(
                lambda _: self._bank.void(payment.payment_id, idempotency_key=key),
                None,
                deadline,
                log,
            )
        now = epoch_seconds(self._clock)
        done = apply_change(
            self._payments,
            payment,
            lambda p: p.with_settlement_done(now) if p.settlement == settlement else None,
        )
        logger.info("authorization settled", extra=log | {"status": done.status.value})
        self._metrics.count(f"Payments{done.status.value}")
        return done

    def _refund(
        self, payment: Payment, refund: Refund, deadline: float, log: dict[str, str]
    ) -> Payment:
        outcome = self._with_retries(
            lambda amount: self._bank.refund(
                payment.payment_id, amount, idempotency_key=refund.refund_id
            ),
            refund.amount,
            deadline,
            log,
        )

        def record(current: Payment) -> Payment | None:
            stored = current.refund(refund.refund_id)
            if stored is None or stored.status is not RefundStatus.PENDING:
                return None
            return current.with_refund_outcome(
                refund.refund_id, outcome, epoch_seconds(self._clock)
            )

        done = apply_change(self._payments, payment, record)
        logger.info(
            "refund answered",
            extra=log | {"refundId": refund.refund_id, "status": outcome.status.value},
        )
        self._metrics.count(f"Refunds{outcome.status.value}")
        return done

    def _note_failure(
        self, payment: Payment, reason: str, deadline: float, log: dict[str, str]
    ) -> None:
        """Best effort: the note may fail as the write before it did, so it is tried again
        while there is time; the job's own error is what goes on."""
        retrying = Retrying(
            stop=stop_any(
                stop_after_attempt(NOTE_ATTEMPTS),
                StopBeforeDeadline(deadline, NOTE_ATTEMPT_SECONDS, self._monotonic),
            ),
            wait=wait_exponential_jitter(
                multiplier=NOTE_FIRST_WAIT_SECONDS,
                max=NOTE_MAX_WAIT_SECONDS,
                jitter=NOTE_FIRST_WAIT_SECONDS,
            ),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            retrying(self._payments.note_failure, payment, reason, epoch_seconds(self._clock))
        except Exception as error:
            logger.warning("failure not noted", extra=log | {"reason": self.reason_of(error)})

    def resolve(self, payment: Payment, job: PaymentJob, *, deadline: float) -> ProcessedJob:
        """Settle an in-flight payment at its bound: the bank's outcome, or Failed once the
        bank has voided it. Raises BankUnavailableError if the bank cannot be asked."""
        log = {"paymentId": payment.payment_id, CORRELATION_KEY: job.correlation_id}
        return self._record(payment, self._settle(payment, deadline, log), job, log)

    def reason_of(self, error: BaseException) -> str:
        return failure_reason(error, self._describe)

    def note_dead_lettered(self, payment_id: str, receives: int) -> None:
        """Its job failed its last delivery; SQS moves it to the DLQ (for `dlq list`)."""
        self._payments.note_dead_lettered(payment_id, receives)

    def _settle(self, payment: Payment, deadline: float, log: dict[str, str]) -> BankOutcome:
        decided = self._with_retries(
            self._bank.void_unless_decided, payment.payment_id, deadline, log
        )
        outcome = decided or PROCESSING_FAILED
        logger.warning("payment settled at its bound", extra=log | {"status": outcome.status})
        self._metrics.count("PaymentsResolved")
        return outcome

    def _ask_bank(self, payment: Payment, deadline: float, log: dict[str, str]) -> BankOutcome:
        if epoch_seconds(self._clock) >= self._policy.settle_from(payment.created_at):
            return self._settle(payment, deadline, log)
        if payment.status is PaymentStatus.PENDING:
            answer = self._with_retries(self._bank.inquire, payment.payment_id, deadline, log)
            if answer is None:
                raise BankUnavailableError("the bank has no answer for this payment yet")
            return answer
        return self._authorize(payment, deadline, log)

    def _record(
        self, payment: Payment, outcome: BankOutcome, job: PaymentJob, log: dict[str, str]
    ) -> ProcessedJob:
        after = payment.with_outcome(outcome, epoch_seconds(self._clock))
        try:
            self._payments.save_transition(payment, after)
        except ConcurrentUpdateError:
            current = self._payments.get(payment.payment_id)
            status = current.status if current else payment.status
            logger.info("lost a race; the other writer's result stands", extra=log)
            self._metrics.count("LostRaces")
            return ProcessedJob(payment.payment_id, JobResult.LOST_RACE, status)

        if after.status is PaymentStatus.PENDING:
            delay = recheck_delay_seconds(
                after.bank_checks,
                self._settings.recheck_base_seconds,
                self._settings.recheck_cap_seconds,
            )
            self._jobs.publish(job, delay_seconds=delay)
            self._metrics.count("RechecksScheduled")
        logger.info("bank outcome recorded", extra=log | {"status": after.status.value})
        self._metrics.count(f"Payments{after.status.value}")
        return ProcessedJob(payment.payment_id, JobResult.RECORDED, after.status)

    def _authorize(self, payment: Payment, deadline: float, log: dict[str, str]) -> BankOutcome:
        if payment.details is None or payment.card_ciphertext is None:
            raise PoisonJobError(f"payment {payment.payment_id} is in flight without its card")
        card = self._vault.decrypt(
            payment.card_ciphertext, payment_id=payment.payment_id, merchant_id=payment.merchant_id
        )
        details = payment.details
        request = AuthorizationRequest(
            payment_id=payment.payment_id,
            merchant_id=payment.merchant_id,
            amount=details.amount,
            currency=details.currency,
            expiry_year=details.expiry_year,
            expiry_month=details.expiry_month,
            card=card,
        )
        return self._with_retries(self._timed_authorize, request, deadline, log)

    def _with_retries(
        self, call: Callable[[T], R], argument: T, deadline: float, log: dict[str, str]
    ) -> R:
        settings = self._settings

        def count_retry(state: RetryCallState) -> None:
            self._metrics.count("BankRetries")
            error = state.outcome.exception() if state.outcome else None
            logger.warning(
                "bank call failed; retrying",
                extra=log | {"attempt": state.attempt_number, "reason": str(error)},
            )

        retrying = Retrying(
            retry=retry_if_exception_type(BankUnavailableError),
            stop=stop_any(
                stop_after_attempt(settings.bank_max_attempts),
                StopBeforeDeadline(deadline, settings.bank_timeout_seconds, self._monotonic),
            ),
            wait=wait_exponential_jitter(
                multiplier=settings.bank_retry_initial_seconds, max=settings.bank_retry_max_seconds
            ),
            before_sleep=count_retry,
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(call, argument)

    def _timed_authorize(self, request: AuthorizationRequest) -> BankOutcome:
        started = self._monotonic()
        try:
            # The payment id is the idempotency key: the bank authorizes it at most once.
            return self._bank.authorize(request, idempotency_key=request.payment_id)
        finally:
            self._metrics.milliseconds("BankLatency", (self._monotonic() - started) * 1000)
