"""The dead-letter queue both DLQ fakes keep their letters in (the payment jobs' in
tests/fakes_registry.py, the webhook deliveries' in tests/fakes.py): a LetterHold on a
list, as core/adapters/sqs_held_letters.py is on SQS; the two are held to each other by
tests/contract/test_held_letters_contract.py."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from core.domain.held_letters import MAX_LETTERS, HeldLetter


@dataclass(frozen=True)
class StoredLetter:
    message_id: str
    body: str
    sent_at_ms: int = 0
    # Why it was dead-lettered, where the queue says (the deliveries' DLQ does).
    reason: str = ""


class _HeldInMemory:
    def __init__(self, queue: InMemoryLetterHold, most: int) -> None:
        self._queue = queue
        self._most = most
        self.hidden: set[str] = set()

    def __iter__(self) -> Iterator[HeldLetter]:
        visible = [
            kept for kept in self._queue.letters if kept.message_id not in self._queue.hidden
        ]
        for letter in visible[: self._most]:
            self.hidden.add(letter.message_id)
            self._queue.hidden.add(letter.message_id)
            yield HeldLetter(letter.message_id, letter.body, letter.sent_at_ms, letter.message_id)

    def delete(self, letter: HeldLetter) -> None:
        self._queue.letters = [
            kept for kept in self._queue.letters if kept.message_id != letter.message_id
        ]


class InMemoryLetterHold:
    """Letters in the order they came; the ones a command holds are hidden from any other
    until it ends."""

    def __init__(self, id_prefix: str) -> None:
        self.letters: list[StoredLetter] = []
        self.hidden: set[str] = set()
        self._ids = (f"{id_prefix}{n}" for n in itertools.count(1))

    def add(self, body: str, *, sent_at_ms: int = 0, reason: str = "") -> str:
        message_id = next(self._ids)
        self.letters.append(StoredLetter(message_id, body, sent_at_ms, reason))
        return message_id

    @contextmanager
    def holding(self, most: int = MAX_LETTERS) -> Iterator[_HeldInMemory]:
        held = _HeldInMemory(self, most)
        try:
            yield held
        finally:
            self.hidden -= held.hidden
