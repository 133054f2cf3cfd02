"""The dead-letter queue: look at what failed, and replay it onto the jobs queue without
ever losing a message (send first, delete second: a crash in between only duplicates a
job, which the worker absorbs).

Any body is survivable (binary, huge, deeply nested): a body is read as a job only if it
is one. Every message a command holds is made visible again when the command ends, even
when it fails. What a letter is (job, stale copy, poison) and how it is shown:
core/domain/dead_letters.py. A letter comes with its payment's failure history (first and
last failure, the reason, how often) and the receive count SQS gave up at.

The receive count SQS gave up at is the jobs queue's maxReceiveCount: SQS moves a message
to the DLQ once it has been received that many times, and nothing else sends to this DLQ.
It is read from the jobs queue's redrive policy, never from the letter: the letter's own
ApproximateReceiveCount travels with it into the DLQ (on SQS as on moto) and then grows by
one at every look (every list, show, replay or delete receives it), so it would say how
often ops looked, not how often the worker tried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from core.adapters.aws_errors import describe
from core.adapters.sqs_jobs import queue_depth
from core.domain.dead_letters import DeadLetter, DeadLetters, letter_of
from core.domain.jobs import PaymentJob
from core.domain.ports import PaymentStore, QueueDepth
from core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# How long a message we are looking at stays hidden from anyone else.
_HOLD_SECONDS = 60
_RECEIVE_BATCH = 10
# Enough to hold every message of a DLQ worth replaying by hand.
MAX_LETTERS = 10_000


class _Held:
    """The letters a command holds, and the ones it deleted (never released again)."""

    def __init__(self, sqs: SQSClient, dlq_url: str) -> None:
        self._sqs = sqs
        self._dlq_url = dlq_url
        self.letters: list[DeadLetter] = []
        self.deleted: set[str] = set()

    def delete(self, letter: DeadLetter) -> None:
        self._sqs.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=letter.receipt_handle)
        self.deleted.add(letter.receipt_handle)


class SqsDeadLetterQueue(DeadLetters):
    def __init__(
        self,
        sqs: SQSClient,
        dlq_url: str,
        jobs_url: str,
        payments: PaymentStore,
        now_ms: Callable[[], int],
    ) -> None:
        self._sqs = sqs
        self._dlq_url = dlq_url
        self._jobs_url = jobs_url
        self._payments = payments
        super().__init__(now_ms)

    def depth(self) -> QueueDepth:
        return queue_depth(self._sqs, self._dlq_url)

    @cached_property
    def _receives_before_dead_lettering(self) -> int | None:
        """The jobs queue's maxReceiveCount if it sends its dead letters here; None if it
        does not, or if its redrive policy cannot be read."""
        try:
            jobs = self._sqs.get_queue_attributes(
                QueueUrl=self._jobs_url, AttributeNames=["RedrivePolicy"]
            ).get("Attributes", {})
            here = self._sqs.get_queue_attributes(
                QueueUrl=self._dlq_url, AttributeNames=["QueueArn"]
            ).get("Attributes", {})
            redrive = json.loads(jobs.get("RedrivePolicy") or "{}")
            if redrive.get("deadLetterTargetArn") != here.get("QueueArn"):
                return None
            return int(redrive["maxReceiveCount"])
        except (ClientError, BotoCoreError, ValueError, KeyError, TypeError) as error:
            logger.warning(
                "the jobs queue's redrive policy could not be read",
                extra={"reason": describe(error)},
            )
            return None

    @contextmanager
    def _holding(self, limit: int = MAX_LETTERS) -> Iterator[_Held]:
        """Receive up to `limit` letters, described; whatever the caller does not delete is
        made visible again on the way out, even if the caller (or a description) fails."""
        received: list[MessageTypeDef] = []
        held = _Held(self._sqs, self._dlq_url)
        try:
            for message in self._receive(limit):
                received.append(message)
            held.letters.extend(self._describe(message) for message in received)
            yield held
        finally:
            self._release(
                [m["ReceiptHandle"] for m in received if m["ReceiptHandle"] not in held.deleted]
            )

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
        return letter_of(
            message_id=message["MessageId"],
            body=message.get("Body", ""),
            sent_at_ms=int(message.get("Attributes", {}).get("SentTimestamp", "0")),
            receipt_handle=message["ReceiptHandle"],
            receives_when_dead_lettered=self._receives_before_dead_lettering,
            payments=self._payments,
            describe=describe,
        )

    def _release(self, receipt_handles: list[str]) -> None:
        """Make messages visible again; one that cannot be is visible again by itself once
        its hold (_HOLD_SECONDS) runs out, and the others are still released."""
        for receipt_handle in receipt_handles:
            try:
                self._sqs.change_message_visibility(
                    QueueUrl=self._dlq_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
                )
            except (ClientError, BotoCoreError) as error:
                logger.warning(
                    "a dead letter stays hidden until its hold runs out",
                    extra={"reason": describe(error)},
                )

    def _requeue(self, job: PaymentJob) -> None:
        self._sqs.send_message(QueueUrl=self._jobs_url, MessageBody=job.to_body())
