"""The dead-letter hold both DLQs' commands share, and the one loop that settles what they
hold (core/domain/held_letters.py), run against the in-memory hold the fakes keep their
letters in (tests/fakes_letters.py) and SQS on moto (core/adapters/sqs_held_letters.py):
a command acts on each letter as judged, and leaves whatever it did not delete visible at
once, however it ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.adapters.sqs_held_letters import SqsLetterHold
from core.domain.held_letters import HeldLetter, LetterAction, LetterHold, settle
from tests.fakes_letters import InMemoryLetterHold

JOBS, COPY, POISON, NOT_MINE = ["job-1", "job-2"], "copy", "poison", "not mine"


class DlqUnderTest:
    def __init__(self, kind: str, request: pytest.FixtureRequest) -> None:
        if kind == "memory":
            self.memory = InMemoryLetterHold("m-")
            self.hold: LetterHold = self.memory
        else:
            self.aws: Any = request.getfixturevalue("aws")
            self.hold = SqsLetterHold(self.aws.sqs, self.aws.dlq_url)
        self.requeued: list[str] = []
        self.heard: list[tuple[str, LetterAction]] = []

    def dead_letter(self, *bodies: str) -> list[str]:
        if hasattr(self, "memory"):
            return [self.memory.add(body) for body in bodies]
        sent = [self.aws.sqs.send_message(QueueUrl=self.aws.dlq_url, MessageBody=b) for b in bodies]
        return [str(message["MessageId"]) for message in sent]

    def visible(self) -> list[str]:
        """The body of every letter visible now (held by a look of its own, then left)."""
        with self.hold.holding() as held:
            return sorted(letter.body for letter in held)

    def replay(
        self,
        *,
        dry_run: bool = False,
        requeue: Callable[[str], None] | None = None,
        enough: Callable[[], bool] = lambda: False,
    ) -> None:
        """A replay as both DLQs' commands run one: jobs queued again, copies dropped,
        poison left, letters of other commands not touched."""

        def judge(letter: HeldLetter) -> tuple[LetterAction, str | None] | None:
            if letter.body == NOT_MINE:
                return None
            if letter.body in JOBS:
                return LetterAction.REPLAYED, letter.body
            return (LetterAction.DROPPED if letter.body == COPY else LetterAction.LEFT), None

        with self.hold.holding() as held:
            settle(
                held,
                lambda letter: letter,
                judge,
                requeue or self.requeued.append,
                dry_run=dry_run,
                on_letter=lambda letter, action: self.heard.append((letter.body, action)),
                enough=enough,
            )


@pytest.fixture
def dlq(kind: str, request: pytest.FixtureRequest) -> DlqUnderTest:
    return DlqUnderTest(kind, request)


def test_a_replay_requeues_drops_and_leaves_each_letter_as_judged(dlq: DlqUnderTest) -> None:
    # GIVEN two jobs, a copy no one needs, poison and a letter the command does not want
    dlq.dead_letter(*JOBS, COPY, POISON, NOT_MINE)

    # WHEN a replay settles them
    dlq.replay()

    # THEN the jobs are queued again and gone, the copy is gone, and the poison and the
    # unwanted letter are visible at once; the command heard of all but the unwanted one
    assert sorted(dlq.requeued) == JOBS
    assert dlq.visible() == sorted([POISON, NOT_MINE])
    assert sorted(dlq.heard) == sorted(
        [
            *((job, LetterAction.REPLAYED) for job in JOBS),
            (COPY, LetterAction.DROPPED),
            (POISON, LetterAction.LEFT),
        ]
    )


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(dlq: DlqUnderTest) -> None:
    # GIVEN jobs, a copy and poison
    dlq.dead_letter(*JOBS, COPY, POISON)

    # WHEN a dry run settles them
    dlq.replay(dry_run=True)

    # THEN it heard what it would do, queued nothing, and every letter is visible at once
    assert sorted(action for _, action in dlq.heard) == sorted(
        [LetterAction.REPLAYED] * 2 + [LetterAction.DROPPED, LetterAction.LEFT]
    )
    assert dlq.requeued == []
    assert dlq.visible() == sorted([*JOBS, COPY, POISON])


def test_a_replay_that_fails_midway_loses_nothing_and_hides_nothing(dlq: DlqUnderTest) -> None:
    # GIVEN two jobs and poison, and a jobs queue that refuses the second send
    dlq.dead_letter(*JOBS, POISON)

    def refuse_the_second(job: str) -> None:
        if dlq.requeued:
            raise ConnectionError("the jobs queue is unavailable")
        dlq.requeued.append(job)

    # WHEN a replay runs into it
    with pytest.raises(ConnectionError):
        dlq.replay(requeue=refuse_the_second)

    # THEN the job sent is gone, and everything else is visible again at once
    (sent,) = dlq.requeued
    assert dlq.visible() == sorted({*JOBS, POISON} - {sent})


def test_a_command_that_stops_early_leaves_what_it_did_not_read_visible(
    dlq: DlqUnderTest,
) -> None:
    # GIVEN two jobs and poison
    dlq.dead_letter(*JOBS, POISON)

    # WHEN a replay stops as soon as it has acted on one letter
    dlq.replay(enough=lambda: len(dlq.heard) == 1)

    # THEN it acted on exactly one, and every other letter is visible at once
    ((body, action),) = dlq.heard
    expected = {*JOBS, POISON} - ({body} if action is LetterAction.REPLAYED else set())
    assert dlq.visible() == sorted(expected)


def test_a_letter_a_command_holds_is_hidden_from_any_other_until_it_ends(
    dlq: DlqUnderTest,
) -> None:
    # GIVEN letters in the DLQ
    ids = dlq.dead_letter(*JOBS, POISON)

    # WHEN a command holds them
    with dlq.hold.holding() as held:
        letters = list(held)

        # THEN they are the letters as sent, and another look finds none of them
        assert sorted((letter.message_id, letter.body) for letter in letters) == sorted(
            zip(ids, [*JOBS, POISON], strict=True)
        )
        assert dlq.visible() == []

    # THEN once it ends they are all visible again at once
    assert dlq.visible() == sorted([*JOBS, POISON])


def test_a_command_holds_at_most_the_letters_it_asks_for(dlq: DlqUnderTest) -> None:
    # GIVEN five letters
    dlq.dead_letter(*(f"letter-{n}" for n in range(5)))

    # WHEN a command asks for three THEN it holds three, and all five are there after it
    with dlq.hold.holding(most=3) as held:
        assert len(list(held)) == 3
    assert len(dlq.visible()) == 5
