"""The dead-letter queue: look at what failed, and replay it onto the jobs queue without
ever losing a message (send first, delete second: a crash in between only duplicates a
job, which the worker absorbs).

Any body is survivable (binary, huge, deeply nested): a body is read as a job only if it
is one. Every message a command holds is made visible again when the command ends, even
when it fails. Each letter is one of:
- a job of a payment still in flight: worth replaying;
- a stale copy: its payment is final already (an earlier delivery finished it), so replay
  drops it instead of queueing it again;
- poison: not a payment job, or a job of no payment or of one not in flight (it could
  never move it): never replayed, only deleted.
A letter is shown with its payment's failure history (first and last failure, the reason,
how often), the receive count SQS gave up at, and its body: a job never holds card
data (it names a payment), and a poison body is shown with any run of digits long enough
to be a card number blanked out.

The receive count SQS gave up at is the jobs queue's maxReceiveCount: SQS moves a message
to the DLQ once it has been received that many times, and nothing else sends to this DLQ.
It is read from the jobs queue's redrive policy, never from the letter: the letter's own
ApproximateReceiveCount travels with it into the DLQ (on SQS as on moto) and then grows by
one at every look (every list, show, replay or delete receives it), so it would say how
often ops looked, not how often the worker tried.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from core.adapters.aws_errors import describe
from core.adapters.sqs_jobs import QueueDepth, queue_depth
from core.domain.errors import UnreadablePaymentError
from core.domain.jobs import PaymentJob
from core.domain.payment import FailureNotes
from core.domain.ports import PaymentStore
from core.domain.text_rules import contains_card_number
from core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# How long a message we are looking at stays hidden from anyone else.
_HOLD_SECONDS = 60
_RECEIVE_BATCH = 10
# Enough to hold every message of a DLQ worth replaying by hand.
MAX_LETTERS = 10_000
MAX_BODY_PREVIEW = 300
MAX_SCANNED_BODY = 64 * 1024
# Runs of digits (with separators) long enough to be a card number, in a poison body.
_LONG_DIGIT_RUNS = re.compile(r"\d(?:[\s\-.]{0,2}\d){11,}")


class LetterKind(StrEnum):
    JOB = "job"
    STALE = "stale"
    POISON = "poison"


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    payment_id: str | None
    kind: LetterKind
    # How often the jobs queue delivered it before SQS moved it here (None: unknown).
    receives_when_dead_lettered: int | None
    sent_at_ms: int
    last_error: str
    body: str
    receipt_handle: str
    payment_status: str | None = None
    merchant_id: str | None = None
    amount: int | None = None
    failure: FailureNotes | None = None
    job: PaymentJob | None = None

    @property
    def body_preview(self) -> str:
        """The body as ops may see it: a job as it is (it only names a payment); any other
        body withheld if it might hold a card number, and cut short."""
        if self.kind is not LetterKind.POISON:
            return self.body
        if contains_card_number(self.body[:MAX_SCANNED_BODY]) or _LONG_DIGIT_RUNS.search(
            self.body[:MAX_SCANNED_BODY]
        ):
            return "[withheld: it may hold a card number]"
        cut = len(self.body) > MAX_BODY_PREVIEW
        return self.body[:MAX_BODY_PREVIEW] + ("…" if cut else "")


@dataclass(frozen=True)
class LetterFilter:
    """Which letters a command acts on; every field given must match."""

    message_id: str | None = None
    payment_id: str | None = None
    merchant_id: str | None = None
    error_contains: str | None = None
    older_than_seconds: int | None = None

    def matches(self, letter: DeadLetter, now_ms: int) -> bool:
        return (
            (self.message_id is None or letter.message_id == self.message_id)
            and (self.payment_id is None or letter.payment_id == self.payment_id)
            and (self.merchant_id is None or letter.merchant_id == self.merchant_id)
            and (
                self.error_contains is None
                or self.error_contains.lower() in letter.last_error.lower()
            )
            and (
                self.older_than_seconds is None
                or age_seconds(letter, now_ms) >= self.older_than_seconds
            )
        )


class LetterAction(StrEnum):
    REPLAYED = "replayed"
    DROPPED = "dropped"
    DELETED = "deleted"
    LEFT = "left"


@dataclass
class LetterReport:
    """What a replay or a delete did (or, in a dry run, would do) to each letter."""

    done: list[tuple[DeadLetter, LetterAction]] = field(default_factory=list)
    # Letters the filter left out (they stay in the DLQ too).
    others: int = 0

    def of(self, action: LetterAction) -> list[DeadLetter]:
        return [letter for letter, done in self.done if done is action]

    @property
    def replayed(self) -> list[DeadLetter]:
        return self.of(LetterAction.REPLAYED)

    @property
    def dropped_stale(self) -> list[DeadLetter]:
        return self.of(LetterAction.DROPPED)

    @property
    def deleted(self) -> list[DeadLetter]:
        return self.of(LetterAction.DELETED)

    @property
    def left(self) -> int:
        """Everything still in the DLQ after it: left by the command, or by the filter."""
        return len(self.of(LetterAction.LEFT)) + self.others


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


class DeadLetterQueue:
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
        self._now_ms = now_ms

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
    def _holding(self, limit: int) -> Iterator[_Held]:
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
        body = message.get("Body", "")
        attributes = message.get("Attributes", {})
        job = PaymentJob.parse(body)
        kind, reason, payment = LetterKind.POISON, "not a payment job", None
        if job is not None:
            try:
                payment = self._payments.get(job.payment_id)
            except UnreadablePaymentError as error:
                reason = str(error)
            except Exception as error:
                # Not knowing its payment, treat it as a job: replaying one is always safe.
                kind, reason = LetterKind.JOB, f"its payment could not be read ({describe(error)})"
            else:
                reason = "no such payment"
        if payment is not None:
            status = payment.status.value
            if payment.status.is_final:
                kind, reason = LetterKind.STALE, f"payment is {status} already"
            elif payment.status.is_in_flight:
                kind = LetterKind.JOB
                reason = payment.failure.reason if payment.failure else f"payment is {status}"
            else:
                reason = f"payment is {status}, not in flight: a job cannot move it"
        return DeadLetter(
            message_id=message["MessageId"],
            payment_id=job.payment_id if job else None,
            kind=kind,
            receives_when_dead_lettered=self._receives_before_dead_lettering,
            sent_at_ms=int(attributes.get("SentTimestamp", "0")),
            last_error=reason,
            body=body,
            receipt_handle=message["ReceiptHandle"],
            payment_status=payment.status.value if payment else None,
            merchant_id=payment.merchant_id if payment else None,
            amount=payment.details.amount if payment and payment.details else None,
            failure=payment.failure if payment else None,
            job=job,
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

    def list(self, limit: int = 100, only: LetterFilter = LetterFilter()) -> list[DeadLetter]:
        """What is in the DLQ (at most `limit` of what matches), left in place."""
        now_ms = self._now_ms()
        with self._holding(MAX_LETTERS) as held:
            return [letter for letter in held.letters if only.matches(letter, now_ms)][:limit]

    def show(self, message_id: str) -> DeadLetter | None:
        letters = self.list(limit=1, only=LetterFilter(message_id=message_id))
        return letters[0] if letters else None

    def replay(
        self,
        *,
        only: LetterFilter = LetterFilter(),
        limit: int = 100,
        dry_run: bool = False,
        on_letter: Callable[[DeadLetter, LetterAction], None] = lambda *_: None,
    ) -> LetterReport:
        """Move jobs back to the jobs queue (at most `limit`). Stale copies (their payment
        is final) are dropped; poison, and letters the filter leaves out, stay."""

        def choose(letter: DeadLetter, report: LetterReport) -> LetterAction:
            if letter.kind is LetterKind.STALE:
                return LetterAction.DROPPED
            if letter.kind is LetterKind.POISON or len(report.replayed) >= limit:
                return LetterAction.LEFT
            return LetterAction.REPLAYED

        return self._act(only, choose, dry_run, on_letter)

    def delete(
        self,
        *,
        only: LetterFilter = LetterFilter(),
        include_jobs: bool = False,
        dry_run: bool = False,
        on_letter: Callable[[DeadLetter, LetterAction], None] = lambda *_: None,
    ) -> LetterReport:
        """Delete poison and stale letters that match; jobs of in-flight payments only with
        `include_jobs` (their payments then rely on the reconciler and their bound)."""

        def choose(letter: DeadLetter, _: LetterReport) -> LetterAction:
            if letter.kind is LetterKind.JOB and not include_jobs:
                return LetterAction.LEFT
            return LetterAction.DELETED

        return self._act(only, choose, dry_run, on_letter)

    def _act(
        self,
        only: LetterFilter,
        choose: Callable[[DeadLetter, LetterReport], LetterAction],
        dry_run: bool,
        on_letter: Callable[[DeadLetter, LetterAction], None],
    ) -> LetterReport:
        """Decide for each matching letter, and (unless a dry run) do it: a replayed letter
        is sent to the jobs queue first and deleted second; dropped and deleted ones are
        deleted; the rest are released."""
        report = LetterReport()
        now_ms = self._now_ms()
        with self._holding(MAX_LETTERS) as held:
            for letter in held.letters:
                if not only.matches(letter, now_ms):
                    report.others += 1
                    continue
                action = choose(letter, report)
                if not dry_run and action is not LetterAction.LEFT:
                    if action is LetterAction.REPLAYED and letter.job is not None:
                        # The job as we write one: nothing the message carried besides.
                        self._sqs.send_message(
                            QueueUrl=self._jobs_url, MessageBody=letter.job.to_body()
                        )
                    held.delete(letter)
                report.done.append((letter, action))
                on_letter(letter, action)
        return report


def age_seconds(letter: DeadLetter, now_ms: int) -> int:
    return max(0, (now_ms - letter.sent_at_ms) // 1000)
