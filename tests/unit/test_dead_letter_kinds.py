"""What a dead letter of the jobs queue is, as `paygate dlq list` shows it to an operator
(core/domain/dead_letters.py letter_of): a job of a payment in flight (replayable), a stale
copy (its payment is final), or poison; each with why, in words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.dead_letters import (
    DeadLetter,
    LetterFilter,
    LetterKind,
    age_seconds,
    letter_of,
)
from core.domain.errors import UnreadablePaymentError
from core.domain.jobs import PaymentJob
from core.domain.payment import FailureNotes, Payment, PaymentDetails, PaymentStatus
from core.domain.reconcile_policy import ReconcilePolicy
from tests.fakes import InMemoryPaymentStore
from tests.fakes_registry import InMemoryDeadLetterQueue
from tests.support import FakeClock
from tests.unit.use_case_world import SETTINGS

PAYMENT_ID = "27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1"
JOB = PaymentJob(PAYMENT_ID, "req-1")
DETAILS = PaymentDetails(1250, "EUR", 2031, 7, "Ada", "1 Main St", "4242", "digest")
IN_FLIGHT = Payment(PAYMENT_ID, "m-1", PaymentStatus.PROCESSING, 2, 100, 160, details=DETAILS)


class _Failing(InMemoryPaymentStore):
    def __init__(self, error: Exception) -> None:
        super().__init__(ReconcilePolicy.of(SETTINGS))
        self.error = error

    def get(self, payment_id: str) -> Payment | None:
        raise self.error


def _letter(body: str, store: InMemoryPaymentStore | None = None) -> DeadLetter:
    return letter_of(
        message_id="m-7",
        body=body,
        sent_at_ms=1_000,
        receives_when_dead_lettered=5,
        payments=store or InMemoryPaymentStore(ReconcilePolicy.of(SETTINGS)),
        describe=lambda error: type(error).__name__,
    )


def _with(payment: Payment) -> InMemoryPaymentStore:
    store = InMemoryPaymentStore(ReconcilePolicy.of(SETTINGS))
    store._payments[payment.payment_id] = payment
    return store


def test_a_job_of_a_payment_in_flight_is_replayable_and_says_why_it_failed() -> None:
    noted = replace(IN_FLIGHT, failure=FailureNotes("the bank timed out", 150, 160, 3))

    letter = _letter(JOB.to_body(), _with(noted))

    assert letter == DeadLetter(
        message_id="m-7",
        payment_id=PAYMENT_ID,
        kind=LetterKind.JOB,
        receives_when_dead_lettered=5,
        sent_at_ms=1_000,
        last_error="the bank timed out",
        body=JOB.to_body(),
        payment_status="Processing",
        merchant_id="m-1",
        amount=1250,
        failure=noted.failure,
        job=JOB,
    )


def test_a_job_of_a_payment_in_flight_without_notes_says_its_status() -> None:
    assert _letter(JOB.to_body(), _with(IN_FLIGHT)).last_error == "payment is Processing"


def test_a_job_of_a_final_payment_is_a_stale_copy() -> None:
    accepted = replace(IN_FLIGHT, status=PaymentStatus.ACCEPTED, version=3)

    letter = _letter(JOB.to_body(), _with(accepted))

    assert (letter.kind, letter.last_error) == (LetterKind.STALE, "payment is Accepted already")


def test_a_job_of_a_payment_not_yet_paid_is_poison_it_could_never_move() -> None:
    created = replace(IN_FLIGHT, status=PaymentStatus.CREATED, version=1, details=None)

    letter = _letter(JOB.to_body(), _with(created))

    assert (letter.kind, letter.last_error) == (
        LetterKind.POISON,
        "payment is Created, not in flight: a job cannot move it",
    )
    assert (letter.payment_status, letter.amount) == ("Created", None)


@pytest.mark.parametrize(
    ("body", "store", "kind", "why"),
    [
        ("not json", None, LetterKind.POISON, "not a payment job"),
        (JOB.to_body(), None, LetterKind.POISON, "no such payment"),
        (
            JOB.to_body(),
            _Failing(UnreadablePaymentError("item has no status")),
            LetterKind.POISON,
            "item has no status",
        ),
        (
            JOB.to_body(),
            _Failing(TimeoutError("read timed out")),
            LetterKind.JOB,
            "its payment could not be read (TimeoutError)",
        ),
    ],
)
def test_a_letter_that_names_no_readable_payment_says_why(
    body: str, store: InMemoryPaymentStore | None, kind: LetterKind, why: str
) -> None:
    letter = _letter(body, store)

    assert (letter.kind, letter.last_error) == (kind, why)
    assert (letter.payment_status, letter.merchant_id, letter.failure) == (None, None, None)


def test_a_letters_age_is_whole_seconds_since_it_was_sent_and_never_negative() -> None:
    letter = _letter("not json")  # sent at 1,000 ms

    assert age_seconds(letter, 3_999) == 2
    assert age_seconds(letter, 1_000) == 0
    assert age_seconds(letter, 0) == 0  # a clock behind the queue's


def _filtered(**given: object) -> bool:
    noted = replace(IN_FLIGHT, failure=FailureNotes("The Bank Timed Out", 150, 160, 3))
    letter = _letter(JOB.to_body(), _with(noted))  # sent at 1 s, merchant m-1
    return LetterFilter(**given).matches(letter, now_ms=61_000)  # type: ignore[arg-type]


def test_a_filter_lets_through_only_letters_matching_every_field_given() -> None:
    assert _filtered()
    assert _filtered(message_id="m-7") and not _filtered(message_id="m-8")
    assert _filtered(payment_id=PAYMENT_ID) and not _filtered(payment_id="other")
    assert _filtered(merchant_id="m-1") and not _filtered(merchant_id="m-2")
    assert _filtered(error_contains="bank timed") and not _filtered(error_contains="declined")
    assert _filtered(older_than_seconds=60) and not _filtered(older_than_seconds=61)
    assert not _filtered(merchant_id="m-1", error_contains="declined")


def _queue(*payments: Payment, clock: FakeClock | None = None) -> InMemoryDeadLetterQueue:
    store = InMemoryPaymentStore(ReconcilePolicy.of(SETTINGS))
    for payment in payments:
        store._payments[payment.payment_id] = payment
    now_ms = (lambda: int(clock.now() * 1000)) if clock else (lambda: 61_000)
    return InMemoryDeadLetterQueue(store, now_ms, 5)


def test_list_shows_at_most_its_limit_and_show_finds_one_letter_by_id() -> None:
    queue = _queue(IN_FLIGHT)
    ids = [queue.dead_letter(JOB.to_body()) for _ in range(3)]

    assert [letter.message_id for letter in queue.list(limit=2)] == ids[:2]
    shown = queue.show(ids[1])
    assert shown is not None and shown.message_id == ids[1]
    assert queue.show("m-404") is None


def test_replay_queues_jobs_up_to_its_limit_drops_stale_and_leaves_poison() -> None:
    final_id = "9b2e5f0a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
    final = replace(IN_FLIGHT, payment_id=final_id, status=PaymentStatus.ACCEPTED, version=3)
    queue = _queue(IN_FLIGHT, final)
    queue.dead_letter(JOB.to_body())
    queue.dead_letter(JOB.to_body())
    queue.dead_letter(PaymentJob(final_id, "r").to_body())
    queue.dead_letter("not json")
    seen: list[str] = []

    report = queue.replay(limit=1, on_letter=lambda letter, action: seen.append(action))

    assert queue.replayed == [JOB]  # one job queued again: the limit
    assert (len(report.replayed), len(report.dropped_stale), report.left) == (1, 1, 2)
    assert seen == ["replayed", "left", "dropped", "left"]
    assert [letter.kind for letter in queue.list()] == [LetterKind.JOB, LetterKind.POISON]


def test_a_dry_run_changes_nothing_and_delete_keeps_jobs_unless_asked() -> None:
    queue = _queue(IN_FLIGHT)
    queue.dead_letter(JOB.to_body())
    queue.dead_letter("not json")

    assert len(queue.replay(dry_run=True).replayed) == 1
    assert (queue.replayed, len(queue.list())) == ([], 2)
    assert len(queue.delete().deleted) == 1  # the poison only
    assert [letter.kind for letter in queue.list()] == [LetterKind.JOB]
    assert len(queue.delete(include_jobs=True).deleted) == 1
    assert queue.list() == []


def test_the_commands_act_only_on_letters_old_enough_and_count_the_others() -> None:
    # GIVEN a job dead-lettered an hour ago, and two just now
    clock = FakeClock(1_000.0)
    queue = _queue(IN_FLIGHT, clock=clock)
    old = queue.dead_letter(JOB.to_body())
    clock.advance(3600)
    queue.dead_letter(JOB.to_body())
    queue.dead_letter("not json")
    an_hour_old = LetterFilter(older_than_seconds=3600)
    heard: list[tuple[str, str]] = []

    # WHEN ops list, dry-run a delete and replay what is an hour old
    listed = queue.list(only=an_hour_old)
    would = queue.delete(only=an_hour_old, include_jobs=True, dry_run=True)
    done = queue.replay(
        only=an_hour_old, on_letter=lambda letter, action: heard.append((letter.message_id, action))
    )

    # THEN each saw the old letter alone, sent when it was, and the delete deleted nothing
    assert [(letter.message_id, letter.sent_at_ms) for letter in listed] == [(old, 1_000_000)]
    assert ([letter.message_id for letter in would.deleted], would.others) == ([old], 2)
    assert (heard, done.others, done.left, queue.replayed) == ([(old, "replayed")], 2, 2, [JOB])
    assert len(queue.list()) == 2


def test_the_commands_say_when_a_letters_payment_could_not_be_read() -> None:
    # GIVEN a job whose payment cannot be read (the store times out)
    queue = InMemoryDeadLetterQueue(_Failing(TimeoutError("read timed out")), lambda: 61_000, 5)
    queue.dead_letter(JOB.to_body())

    # WHEN ops list it THEN it is a job (replaying one is safe) and says why, without the
    # error's text
    (letter,) = queue.list()
    assert (letter.kind, letter.last_error) == (
        LetterKind.JOB,
        "its payment could not be read (TimeoutError)",
    )


def test_a_listing_shows_and_a_replay_moves_at_most_100_letters_by_default() -> None:
    # (The commands' --limit defaults are theirs; the port's own default is 100.)
    queue = _queue(IN_FLIGHT)
    for _ in range(101):
        queue.dead_letter(JOB.to_body())

    assert len(queue.list()) == 100
    report = queue.replay()
    assert (len(report.replayed), len(queue.replayed)) == (100, 100)
    assert len(queue.list()) == 1
