"""The jobs queue as SQS's standard queue behaves, on the virtual clock: at least once (a
publish is now and then stored twice), in no particular order (a receive takes visible
messages at random), delays honoured, a received message hidden for the visibility
timeout, and moved to the DLQ by the receive that finds it received `max_receives` times."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.domain.dead_letters import LetterKind
from core.domain.jobs import PaymentJob
from core.domain.ports import QueueDepth
from tests.fakes import received
from tests.fakes_registry import InMemoryDeadLetterQueue


@dataclass
class Message:
    handle: int
    body: str
    visible_at: float
    receives: int = 0


class SimulatedQueue:
    def __init__(
        self,
        now: Callable[[], float],
        rng: random.Random,
        *,
        visibility_seconds: float,
        max_receives: int,
        duplicate_rate: float,
    ) -> None:
        self._now = now
        self._rng = rng
        self._visibility = visibility_seconds
        self._max_receives = max_receives
        self._duplicate_rate = duplicate_rate
        self._messages: dict[int, Message] = {}
        self._handles = 0
        # Set by the World once the payments store exists: the DLQ and its operator tools
        # (core/domain/dead_letters.py), which replay jobs, drop stale copies, leave poison.
        self.dlq: InMemoryDeadLetterQueue | None = None
        # Every body ever sent (the card-data check reads them).
        self.sent: list[str] = []

    # JobPublisher
    def publish(self, job: PaymentJob, *, delay_seconds: int = 0) -> None:
        self.send(job.to_body(), delay_seconds)

    def publish_many(self, jobs: Sequence[PaymentJob]) -> list[PaymentJob]:
        for job in jobs:
            self.publish(job)
        return []

    def depth(self) -> QueueDepth:
        now = self._now()
        visible = sum(m.visible_at <= now for m in self._messages.values())
        hidden = [m for m in self._messages.values() if m.visible_at > now]
        return QueueDepth(
            visible=visible,
            in_flight=sum(m.receives > 0 for m in hidden),
            delayed=sum(m.receives == 0 for m in hidden),
        )

    # What SQS does besides
    def send(self, body: str, delay_seconds: float = 0) -> None:
        copies = 2 if self._rng.random() < self._duplicate_rate else 1
        for _ in range(copies):
            self._handles += 1
            self._messages[self._handles] = Message(
                self._handles, body, self._now() + delay_seconds
            )
        self.sent.append(body)

    def receive(self, most: int) -> list[Message]:
        now = self._now()
        visible = [m for m in self._messages.values() if m.visible_at <= now]
        self._rng.shuffle(visible)

        def to_dead_letters(message: Message) -> None:
            assert self.dlq is not None
            self.dlq.dead_letter(self._messages.pop(message.handle).body)

        return received(visible, most, now + self._visibility, self._max_receives, to_dead_letters)

    def delete(self, handle: int) -> None:
        self._messages.pop(handle, None)

    def replay_dead_letters(self) -> int:
        """What `paygate dlq replay` does: each job of a payment in flight sent again, then
        removed; stale copies removed; poison left (alarmed, for a person)."""
        assert self.dlq is not None
        report = self.dlq.replay(limit=1000)
        for job in self.dlq.replayed:
            self.send(job.to_body())
        self.dlq.replayed.clear()
        return len(report.replayed)

    def jobs_dead_lettered(self) -> int:
        """Letters the operator would replay (not poison)."""
        assert self.dlq is not None
        return sum(letter.kind is LetterKind.JOB for letter in self.dlq.list(limit=10**6))

    def next_visible_at(self) -> float:
        return min((m.visible_at for m in self._messages.values()), default=float("inf"))

    def __len__(self) -> int:
        return len(self._messages)
