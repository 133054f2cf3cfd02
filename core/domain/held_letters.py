"""What the commands of both dead-letter queues share: the letters a command holds (hidden
from anyone else while it runs) and the one loop that settles them. Each queue only says
how a letter is judged and where a replayed job goes: the payment jobs' DLQ in
core/domain/dead_letters.py, the webhook deliveries' DLQ in core/domain/webhooks.py
(replay_delivery_letters). The hold on SQS: core/adapters/sqs_held_letters.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

# Enough to hold every message of a DLQ worth replaying by hand.
MAX_LETTERS = 10_000


class LetterAction(StrEnum):
    # Queued again, then deleted from the DLQ.
    REPLAYED = "replayed"
    # Deleted: a copy no one needs (of a final payment, or of a delivery replayed already).
    DROPPED = "dropped"
    # Deleted because ops asked to.
    DELETED = "deleted"
    # Stays in the DLQ, visible again once the command ends.
    LEFT = "left"


@dataclass(frozen=True)
class HeldLetter:
    message_id: str
    body: str
    sent_at_ms: int
    receipt_handle: str


class Held(Protocol):
    """Letters received one by one as the command reads them (at most as many as it asked
    for), each hidden until the command ends unless deleted first."""

    def __iter__(self) -> Iterator[HeldLetter]: ...

    def delete(self, letter: HeldLetter) -> None: ...


class LetterHold(Protocol):
    """A dead-letter queue as commands hold it: whatever a command does not delete is
    visible again at once when it ends, even if it fails."""

    def holding(self, most: int = MAX_LETTERS) -> AbstractContextManager[Held]: ...


L = TypeVar("L")
J = TypeVar("J")
# What to do with a letter, and for a replay the job to queue; None: not this command's
# letter (it stays, unreported).
Judge = Callable[[L], tuple[LetterAction, J | None] | None]


def settle(
    held: Held,
    read: Callable[[HeldLetter], L],
    judge: Judge[L, J],
    requeue: Callable[[J], None],
    *,
    dry_run: bool,
    on_letter: Callable[[L, LetterAction], None] = lambda *_: None,
    enough: Callable[[], bool] = lambda: False,
) -> None:
    """Each held letter read and judged in turn, until `enough`; unless a dry run, a
    replayed letter is queued again first and deleted second (a crash in between only
    duplicates a job, which its consumer absorbs), a dropped or deleted one is deleted, and
    the rest stay. `on_letter` hears what was done (or would be) to each judged letter."""
    letters = iter(held)
    while not enough() and (raw := next(letters, None)) is not None:
        letter = read(raw)
        verdict = judge(letter)
        if verdict is None:
            continue
        action, job = verdict
        if not dry_run and action is not LetterAction.LEFT:
            if action is LetterAction.REPLAYED and job is not None:
                requeue(job)
            held.delete(raw)
        on_letter(letter, action)
