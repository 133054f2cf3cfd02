"""The dead-letter queue: look at what failed, and replay it onto the jobs queue without
ever losing a message (send first, delete second: a crash in between only duplicates a
job, which the worker absorbs).

Any body is survivable (binary, huge, deeply nested): a body is read as a job only if it
is one. Every message a command holds is made visible again when the command ends, even
when it fails. Each letter is one of:
- a job of a payment still in flight: worth replaying;
- a stale copy: its payment is final already (an earlier delivery finished it), so replay
  drops it instead of queueing it again;
- poison: not a payment job, or a job of no payment: never replayed, only deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from core.job_queue import PaymentJob, QueueDepth, queue_depth
from core.payments_repository import PaymentsRepository, UnreadablePaymentError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# How long a message we are looking at stays hidden from anyone else.
_HOLD_SECONDS = 60
_RECEIVE_BATCH = 10


class LetterKind(StrEnum):
    JOB = "job"
    STALE = "stale"
    POISON = "poison"


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    payment_id: str | None
    kind: LetterKind
    receive_count: int
    sent_at_ms: int
    last_error: str
    body: str
    receipt_handle: str
    payment_status: str | None = None
    merchant_id: str | None = None


@dataclass
class ReplayReport:
    replayed: list[DeadLetter] = field(default_factory=list)
    dropped_stale: list[DeadLetter] = field(default_factory=list)
    # Poison and letters the filter left out stay in the DLQ.
    left: int = 0


class DeadLetterQueue:
    def __init__(
        self,
        sqs: SQSClient,
        dlq_url: str,
        jobs_url: str,
        payments: PaymentsRepository,
    ) -> None:
        self._sqs = sqs
        self._dlq_url = dlq_url
        self._jobs_url = jobs_url
        self._payments = payments

    def depth(self) -> QueueDepth:
        return queue_depth(self._sqs, self._dlq_url)

    @contextmanager
    def _holding(self, limit: int) -> Iterator[list[DeadLetter]]:
        """Receive up to `limit` letters, described; whatever the caller does not delete is
        made visible again on the way out, even if the caller fails."""
        held: list[DeadLetter] = []
        try:
            for message in self._receive(limit):
                held.append(self._describe(message))
            yield held
        finally:
            self._release(held)

    def _receive(self, limit: int) -> Iterator[MessageTypeDef]:
        seen = 0
        while seen < limit:
            batch = self._sqs.receive_message(
                QueueUrl=self._dlq_url,
                MaxNumberOfMessages=min(_RECEIVE_BATCH, limit - seen),
                VisibilityTimeout=_HOLD_SECONDS,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return
            for message in batch:
                seen += 1
                yield message

    def _describe(self, message: MessageTypeDef) -> DeadLetter:
        body = message.get("Body", "")
        attributes = message.get("Attributes", {})
        job = PaymentJob.parse(body)
        kind, reason, status, merchant = LetterKind.POISON, "not a payment job", None, None
        if job is not None:
            try:
                payment = self._payments.get(job.payment_id)
            except UnreadablePaymentError as error:
                payment, reason = None, str(error)
            else:
                reason = "no such payment"
            if payment is not None:
                status, merchant = payment.status.value, payment.merchant_id
                if payment.status.is_final:
                    kind, reason = LetterKind.STALE, f"payment is {status} already"
                else:
                    kind = LetterKind.JOB
                    reason = payment.last_error or f"payment is {status}"
        return DeadLetter(
            message_id=message["MessageId"],
            payment_id=job.payment_id if job else None,
            kind=kind,
            receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
            sent_at_ms=int(attributes.get("SentTimestamp", "0")),
            last_error=reason,
            body=body,
            receipt_handle=message["ReceiptHandle"],
            payment_status=status,
            merchant_id=merchant,
        )

    def _release(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            self._sqs.change_message_visibility(
                QueueUrl=self._dlq_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )

    def _delete(self, letter: DeadLetter, held: list[DeadLetter]) -> None:
        self._sqs.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=letter.receipt_handle)
        held.remove(letter)

    def list(self, limit: int = 100) -> list[DeadLetter]:
        """What is in the DLQ, left in place for everyone else."""
        with self._holding(limit) as held:
            return list(held)

    def replay(
        self,
        *,
        payment_id: str | None = None,
        limit: int = 100,
        dry_run: bool = False,
        on_replayed: Callable[[DeadLetter], None] = lambda _: None,
    ) -> ReplayReport:
        """Move jobs back to the jobs queue: all of them, or those of one payment. Stale
        copies (their payment is final) are dropped; poison is left for `delete`."""
        report = ReplayReport()
        with self._holding(10_000) as held:
            for letter in list(held):
                wanted = payment_id is None or letter.payment_id == payment_id
                if not wanted or letter.kind is LetterKind.POISON:
                    report.left += 1
                elif letter.kind is LetterKind.STALE:
                    if not dry_run:
                        self._delete(letter, held)
                    report.dropped_stale.append(letter)
                elif len(report.replayed) >= limit:
                    report.left += 1
                else:
                    if not dry_run:
                        self._sqs.send_message(QueueUrl=self._jobs_url, MessageBody=letter.body)
                        self._delete(letter, held)
                        on_replayed(letter)
                    report.replayed.append(letter)
        return report


def age_seconds(letter: DeadLetter, now_ms: int) -> int:
    return max(0, (now_ms - letter.sent_at_ms) // 1000)
