"""What the worker does with one job: take a submitted payment to the bank and record the
outcome, exactly once, whatever the duplicates, retries and crashes (invariants 1-4)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from core.bank import AuthorizationRequest, Bank
from core.card_vault import CardVault
from core.clock import Clock, epoch_seconds
from core.errors import BankUnavailableError, ConcurrentUpdateError
from core.job_queue import JobQueue, PaymentJob
from core.observability import MetricsRecorder, logger
from core.payment import BankOutcome, Payment, PaymentStatus
from core.payments_repository import PaymentsRepository
from core.settings import Settings


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


def recheck_delay_seconds(checks: int, base: int, cap: int) -> int:
    """Back-off for Pending re-checks: base, 2x base, 4x base, ... never above cap."""
    return int(min(cap, base * 2 ** max(0, checks - 1)))


class PaymentProcessor:
    def __init__(
        self,
        *,
        payments: PaymentsRepository,
        vault: CardVault,
        bank: Bank,
        jobs: JobQueue,
        clock: Clock,
        settings: Settings,
        metrics: MetricsRecorder,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._payments = payments
        self._vault = vault
        self._bank = bank
        self._jobs = jobs
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._monotonic = monotonic

    def process(self, job: PaymentJob, *, deadline: float) -> ProcessedJob:
        """Process one job; `deadline` (monotonic seconds) bounds the bank retries.

        Raises to leave the job on the queue for redelivery (and in the end the DLQ).
        """
        log = {"paymentId": job.payment_id, "correlationId": job.correlation_id}
        payment = self._payments.get(job.payment_id)
        if payment is None:
            raise PoisonJobError(f"no payment {job.payment_id}")
        if payment.status.is_final:
            logger.info("job for a final payment acknowledged", extra=log)
            self._metrics.count("DuplicateJobs")
            return ProcessedJob(payment.payment_id, JobResult.DUPLICATE, payment.status)
        if not payment.status.is_in_flight or payment.card_ciphertext is None:
            raise PoisonJobError(f"payment {job.payment_id} is {payment.status}, not in flight")

        try:
            outcome = self._authorize(payment, deadline, log)
        except BankUnavailableError as error:
            self._payments.note_failure(payment, str(error), epoch_seconds(self._clock))
            raise
        after = payment.with_outcome(outcome, epoch_seconds(self._clock))
        try:
            self._payments.save_transition(payment, after)
        except ConcurrentUpdateError:
            current = self._payments.get(job.payment_id)
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
        assert payment.details is not None and payment.card_ciphertext is not None
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
        settings = self._settings

        def count_retry(state: RetryCallState) -> None:
            self._metrics.count("BankRetries")
            logger.warning(
                "bank call failed; retrying",
                extra=log | {"attempt": state.attempt_number},
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
            reraise=True,
        )
        return retrying(self._timed_authorize, request)

    def _timed_authorize(self, request: AuthorizationRequest) -> BankOutcome:
        started = self._monotonic()
        try:
            # The payment id is the idempotency key: the bank authorizes it at most once.
            return self._bank.authorize(request, idempotency_key=request.payment_id)
        finally:
            self._metrics.milliseconds("BankLatency", (self._monotonic() - started) * 1000)
