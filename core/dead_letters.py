"""The dead-letter queue: look at what failed, and replay it onto the jobs queue without
ever losing a message (send first, delete second: a crash in between only duplicates a
job, which the worker absorbs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.job_queue import PaymentJob, QueueDepth, queue_depth
from core.payments_repository import PaymentsRepository

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# How long a message we are looking at stays hidden from anyone else.
_HOLD_SECONDS = 60


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    payment_id: str | None
    receive_count: int
    sent_at_ms: int
    last_error: str
    body: str
    receipt_handle: str


@dataclass(frozen=True)
class ReplayReport:
    replayed: list[str]
    skipped: int


def _payment_id_of(body: str) -> str | None:
    try:
        return PaymentJob.from_body(body).payment_id
    except ValueError:
        return None


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

    def _receive_all(self, limit: int) -> Iterator[MessageTypeDef]:
        seen = 0
        while seen < limit:
            batch = self._sqs.receive_message(
                QueueUrl=self._dlq_url,
                MaxNumberOfMessages=min(10, limit - seen),
                VisibilityTimeout=_HOLD_SECONDS,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return
            for message in batch:
                seen += 1
                yield message

    def _describe(self, message: MessageTypeDef) -> DeadLetter:
        body = message["Body"]
        payment_id = _payment_id_of(body)
        if payment_id is None:
            last_error = "not a payment job"
        else:
            payment = self._payments.get(payment_id)
            if payment is None:
                last_error = "no such payment"
            else:
                last_error = payment.last_error or f"payment is {payment.status.value}"
        attributes = message.get("Attributes", {})
        return DeadLetter(
            message_id=message["MessageId"],
            payment_id=payment_id,
            receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
            sent_at_ms=int(attributes.get("SentTimestamp", "0")),
            last_error=last_error,
            body=body,
            receipt_handle=message["ReceiptHandle"],
        )

    def _release(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            self._sqs.change_message_visibility(
                QueueUrl=self._dlq_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
            )

    def list(self, limit: int = 100) -> list[DeadLetter]:
        """What is in the DLQ, left in place for everyone else."""
        letters = [self._describe(message) for message in self._receive_all(limit)]
        self._release(letters)
        return letters

    def replay(
        self,
        *,
        payment_id: str | None = None,
        limit: int = 100,
        dry_run: bool = False,
        on_replayed: Callable[[DeadLetter], None] = lambda _: None,
    ) -> ReplayReport:
        """Move messages back to the jobs queue: all of them, or those of one payment."""
        chosen: list[DeadLetter] = []
        others: list[DeadLetter] = []
        for message in self._receive_all(10_000):
            letter = self._describe(message)
            wanted = payment_id is None or letter.payment_id == payment_id
            (chosen if wanted and len(chosen) < limit else others).append(letter)
        self._release(others)
        if dry_run:
            self._release(chosen)
            return ReplayReport(
                replayed=[letter.message_id for letter in chosen], skipped=len(others)
            )
        for letter in chosen:
            self._sqs.send_message(QueueUrl=self._jobs_url, MessageBody=letter.body)
            self._sqs.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=letter.receipt_handle)
            on_replayed(letter)
        return ReplayReport(replayed=[letter.message_id for letter in chosen], skipped=len(others))


def age_seconds(letter: DeadLetter, now_ms: int) -> int:
    return max(0, (now_ms - letter.sent_at_ms) // 1000)
