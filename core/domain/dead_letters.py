"""Dead letters of the payment jobs queue, as ops see them, and the port of the tools that
look at them and replay them (core/adapters/sqs_dead_letters.py: the SQS DLQ).

Each letter is one of:
- a job of a payment still in flight: worth replaying;
- a stale copy: its payment is final already (an earlier delivery finished it), so replay
  drops it instead of queueing it again;
- poison: not a payment job, or a job of no payment or of one not in flight (it could
  never move it): never replayed, only deleted.
A letter's body is shown as it is if it is a job (a job never holds card data: it names a
payment); a poison body is withheld if it may hold a card number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from core.domain.errors import UnreadablePaymentError
from core.domain.held_letters import HeldLetter, LetterAction, LetterHold, settle
from core.domain.jobs import PaymentJob
from core.domain.payment import FailureNotes, PaymentStatus
from core.domain.ports import PaymentStore, QueueDepth
from core.domain.text_rules import may_hold_card_number

MAX_BODY_PREVIEW = 300
MAX_SCANNED_BODY = 64 * 1024


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
        if may_hold_card_number(self.body[:MAX_SCANNED_BODY]):
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


# The filter that lets every letter through (a command's default).
EVERY_LETTER = LetterFilter()


def age_seconds(letter: DeadLetter, now_ms: int) -> int:
    return max(0, (now_ms - letter.sent_at_ms) // 1000)


def letter_of(
    *,
    message_id: str,
    body: str,
    sent_at_ms: int,
    receives_when_dead_lettered: int | None,
    payments: PaymentStore,
    describe: Callable[[BaseException], str],
) -> DeadLetter:
    """What a dead-lettered message is (job, stale copy, poison) and why, from its body
    and its payment as it stands. `describe` says why a payment could not be read without
    quoting request data."""
    job = PaymentJob.parse(body)
    kind, reason, payment = LetterKind.POISON, "not a payment job", None
    if job is not None:
        try:
            payment = payments.get(job.payment_id)
        except UnreadablePaymentError as error:
            reason = str(error)
        except Exception as error:
            # Not knowing its payment, treat it as a job: replaying one is always safe.
            kind, reason = LetterKind.JOB, f"its payment could not be read ({describe(error)})"
        else:
            reason = "no such payment"
    if payment is not None:
        status = payment.status.value
        if payment.has_work_in_flight:
            kind = LetterKind.JOB
            reason = payment.failure.reason if payment.failure else f"payment is {status}"
        elif payment.status is not PaymentStatus.CREATED:
            kind, reason = LetterKind.STALE, f"payment is {status} already"
        else:
            reason = f"payment is {status}, not in flight: a job cannot move it"
    return DeadLetter(
        message_id=message_id,
        payment_id=job.payment_id if job else None,
        kind=kind,
        receives_when_dead_lettered=receives_when_dead_lettered,
        sent_at_ms=sent_at_ms,
        last_error=reason,
        body=body,
        payment_status=payment.status.value if payment else None,
        merchant_id=payment.merchant_id if payment else None,
        amount=payment.details.amount if payment and payment.details else None,
        failure=payment.failure if payment else None,
        job=job,
    )


Choice = Callable[[DeadLetter, LetterReport], LetterAction]


def replay_choice(limit: int) -> Choice:
    """Replay jobs (at most `limit`), drop stale copies, leave poison."""

    def choose(letter: DeadLetter, report: LetterReport) -> LetterAction:
        if letter.kind is LetterKind.STALE:
            return LetterAction.DROPPED
        if letter.kind is LetterKind.POISON or len(report.replayed) >= limit:
            return LetterAction.LEFT
        return LetterAction.REPLAYED

    return choose


def delete_choice(include_jobs: bool) -> Choice:
    """Delete poison and stale copies; jobs of in-flight payments only if asked to."""

    def choose(letter: DeadLetter, _: LetterReport) -> LetterAction:
        if letter.kind is LetterKind.JOB and not include_jobs:
            return LetterAction.LEFT
        return LetterAction.DELETED

    return choose


class DeadLetters(ABC):
    """The port of the payment jobs' dead-letter queue: its commands (list, show, replay,
    delete) are the same over any queue; an implementation gives the hold of its letters
    (`letters`, core/domain/held_letters.py) and says how deep it is, how often a job is
    tried before it lands here, and how it queues a job again. Every command leaves what it
    does not act on where it was."""

    def __init__(
        self,
        now_ms: Callable[[], int],
        letters: LetterHold,
        payments: PaymentStore,
        describe: Callable[[BaseException], str],
    ) -> None:
        self._now_ms = now_ms
        self._letters = letters
        self._payments = payments
        self._why = describe

    @abstractmethod
    def depth(self) -> QueueDepth: ...

    @property
    @abstractmethod
    def receives_when_dead_lettered(self) -> int | None:
        """How often the jobs queue delivers a job before it moves it here (None: unknown)."""

    @abstractmethod
    def _requeue(self, job: PaymentJob) -> None:
        """Send `job` to the jobs queue (as we write one: nothing a letter carried besides)."""

    def _describe(self, letter: HeldLetter) -> DeadLetter:
        return letter_of(
            message_id=letter.message_id,
            body=letter.body,
            sent_at_ms=letter.sent_at_ms,
            receives_when_dead_lettered=self.receives_when_dead_lettered,
            payments=self._payments,
            describe=self._why,
        )

    def list(self, limit: int = 100, only: LetterFilter = EVERY_LETTER) -> list[DeadLetter]:
        """What is in the DLQ (at most `limit` of what matches), left in place."""
        now_ms = self._now_ms()
        with self._letters.holding() as held:
            letters = (self._describe(letter) for letter in held)
            return [letter for letter in letters if only.matches(letter, now_ms)][:limit]

    def show(self, message_id: str) -> DeadLetter | None:
        letters = self.list(limit=1, only=LetterFilter(message_id=message_id))
        return letters[0] if letters else None

    def replay(
        self,
        *,
        only: LetterFilter = EVERY_LETTER,
        limit: int = 100,
        dry_run: bool = False,
        on_letter: Callable[[DeadLetter, LetterAction], None] = lambda *_: None,
    ) -> LetterReport:
        """Move jobs back to the jobs queue (at most `limit`). Stale copies (their payment
        is final) are dropped; poison, and letters the filter leaves out, stay."""
        return self._act(only, replay_choice(limit), dry_run, on_letter)

    def delete(
        self,
        *,
        only: LetterFilter = EVERY_LETTER,
        include_jobs: bool = False,
        dry_run: bool = False,
        on_letter: Callable[[DeadLetter, LetterAction], None] = lambda *_: None,
    ) -> LetterReport:
        """Delete poison and stale letters that match; jobs of in-flight payments only with
        `include_jobs` (their payments then rely on the reconciler and their bound)."""
        return self._act(only, delete_choice(include_jobs), dry_run, on_letter)

    def _act(
        self,
        only: LetterFilter,
        choose: Choice,
        dry_run: bool,
        on_letter: Callable[[DeadLetter, LetterAction], None],
    ) -> LetterReport:
        """Each matching letter settled as `choose` says (core/domain/held_letters.py)."""
        report = LetterReport()
        now_ms = self._now_ms()

        def judge(letter: DeadLetter) -> tuple[LetterAction, PaymentJob | None] | None:
            if not only.matches(letter, now_ms):
                report.others += 1
                return None
            return choose(letter, report), letter.job

        def done(letter: DeadLetter, action: LetterAction) -> None:
            report.done.append((letter, action))
            on_letter(letter, action)

        with self._letters.holding() as held:
            settle(held, self._describe, judge, self._requeue, dry_run=dry_run, on_letter=done)
        return report
