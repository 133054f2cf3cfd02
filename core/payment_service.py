"""The merchant-facing use cases: create a payment, submit its card, read it back."""

from __future__ import annotations

import uuid

from core.card_vault import CardVault
from core.clock import Clock, epoch_seconds
from core.errors import MerchantMismatchError, PaymentConflictError, PaymentNotFoundError
from core.job_queue import JobQueue, PaymentJob
from core.pagination import decode_cursor, encode_cursor
from core.payment import CREATED_VERSION, Payment, PaymentDetails, PaymentStatus
from core.payments_repository import PaymentsRepository, TransitionRejectedError
from core.requests import ListPaymentsQuery, MakePaymentRequest
from core.submission import details_of


def ensure_caller_is(caller_merchant_id: str, claimed_merchant_id: str) -> None:
    """A merchantId in a body or query must be the authenticated caller's (invariant 5)."""
    if claimed_merchant_id != caller_merchant_id:
        raise MerchantMismatchError("merchantId does not match the authenticated merchant")


def _not_found(payment_id: str) -> PaymentNotFoundError:
    return PaymentNotFoundError(f"payment {payment_id} was not found")


class PaymentService:
    def __init__(
        self,
        *,
        payments: PaymentsRepository,
        vault: CardVault,
        jobs: JobQueue,
        clock: Clock,
        payment_ttl_seconds: int,
    ) -> None:
        self._payments = payments
        self._vault = vault
        self._jobs = jobs
        self._clock = clock
        self._ttl = payment_ttl_seconds

    def create_payment(self, caller: str, merchant_id: str) -> Payment:
        ensure_caller_is(caller, merchant_id)
        now = epoch_seconds(self._clock)
        payment = Payment(
            payment_id=str(uuid.uuid4()),
            merchant_id=merchant_id,
            status=PaymentStatus.CREATED,
            version=CREATED_VERSION,
            created_at=now,
            updated_at=now,
            expires_at=now + self._ttl,
        )
        self._payments.add(payment)
        return payment

    def submit_payment(
        self, caller: str, request: MakePaymentRequest, correlation_id: str
    ) -> Payment:
        """Created -> Processing, then queue the job. Repeating the same request answers the
        same and queues nothing; a different request for the same payment is a conflict.

        If the job cannot be queued after retries, QueueUnavailableError (503) is raised and
        the payment stays Processing: the reconciler finds it on the in-flight index and
        queues it (that closes the window between the DB write and the enqueue).
        """
        ensure_caller_is(caller, request.merchant_id)
        details = details_of(request)
        ciphertext = self._vault.encrypt(
            request.card_secret, payment_id=request.payment_id, merchant_id=request.merchant_id
        )
        now = epoch_seconds(self._clock)
        try:
            payment = self._payments.mark_processing(
                payment_id=request.payment_id,
                merchant_id=request.merchant_id,
                details=details,
                card_ciphertext=ciphertext,
                correlation_id=correlation_id,
                now=now,
            )
        except TransitionRejectedError as rejected:
            return self._answer_repeat(rejected.current, request, details, now)
        self._jobs.publish(PaymentJob(payment.payment_id, correlation_id))
        return payment

    def _answer_repeat(
        self,
        current: Payment | None,
        request: MakePaymentRequest,
        details: PaymentDetails,
        now: int,
    ) -> Payment:
        if current is None or not current.visible_to(request.merchant_id, now):
            raise _not_found(request.payment_id)
        if current.status is PaymentStatus.CREATED:
            # Still Created yet the update was refused: it expired between our checks.
            raise _not_found(request.payment_id)
        if current.details is None or current.details.request_digest != details.request_digest:
            raise PaymentConflictError(
                f"payment {request.payment_id} was already submitted with different details"
            )
        return current

    def list_payments(
        self, caller: str, query: ListPaymentsQuery
    ) -> tuple[list[Payment], str | None]:
        """A page of the caller's payments, newest first, and the cursor of the next page."""
        ensure_caller_is(caller, query.merchant_id)
        now = epoch_seconds(self._clock)
        page = self._payments.list_for_merchant(
            merchant_id=caller,
            created_from=query.from_time or 0,
            created_to=query.to_time if query.to_time is not None else now + self._ttl,
            status=query.status,
            limit=query.limit,
            start_key=decode_cursor(query.cursor, caller) if query.cursor else None,
            now=now,
        )
        next_cursor = encode_cursor(caller, page.last_key) if page.last_key else None
        return page.payments, next_cursor

    def get_payment(self, caller: str, merchant_id: str, payment_id: str) -> Payment:
        ensure_caller_is(caller, merchant_id)
        payment = self._payments.get(payment_id)
        if payment is None or not payment.visible_to(caller, epoch_seconds(self._clock)):
            raise _not_found(payment_id)
        return payment
