"""Webhook endpoints, deliveries and what the use cases need of storage, queues and HTTP
(ports: the adapters implement them)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.domain.held_letters import MAX_LETTERS, LetterAction, LetterHold, settle
from core.domain.queued_messages import queued_json_object
from core.domain.webhook_events import ALL_EVENT_TYPES, WebhookEvent, parse_event_id

# How long a rotated-out secret keeps signing, so receivers can switch over.
ROTATION_GRACE_SECONDS = 24 * 3600
# Secrets signing at once: the newest and the two before it still in their grace period. A
# rotation past that retires the oldest at once, so the endpoint's item and every
# delivery's signature header stay small however often a merchant rotates.
MAX_SIGNING_SECRETS = 3
MAX_ENDPOINTS_PER_MERCHANT = 16
ENDPOINT_PREFIX = "we_"
ENDPOINT_ID = re.compile(ENDPOINT_PREFIX + "[0-9a-f]{20}")


@dataclass(frozen=True)
class EndpointSecret:
    ciphertext: bytes
    created_at: int
    # When it stops signing (set when a newer secret replaces it).
    retires_at: int | None = None
    # The rotation that added it, when that rotation held an Idempotency-Key (derived from
    # the key's claim): a retry of the rotation finds it.
    rotation_id: str | None = None

    def in_use(self, now: float) -> bool:
        return self.retires_at is None or now < self.retires_at


@dataclass(frozen=True)
class WebhookEndpoint:
    endpoint_id: str
    merchant_id: str
    url: str
    created_at: int
    # Empty: every event type.
    event_types: tuple[str, ...] = ()
    secrets: tuple[EndpointSecret, ...] = ()
    # Counts changes to the secrets: a rotation saves only over the revision it read.
    revision: int = 0
    # Until when its deliveries go to the slow lane (core/domain/webhook_retry.py).
    slow_until: float = 0.0

    def in_slow_lane(self, now: float) -> bool:
        return self.slow_until > now

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing_secrets(self, now: float) -> tuple[EndpointSecret, ...]:
        """The secrets that sign now: those in use, newest first, at most
        MAX_SIGNING_SECRETS (an endpoint stored with more, before the cap, signs with its
        newest too)."""
        newest_first = sorted(self.secrets, key=lambda s: s.created_at, reverse=True)
        return tuple(s for s in newest_first if s.in_use(now))[:MAX_SIGNING_SECRETS]

    def rotated(self, new: EndpointSecret, now: int) -> WebhookEndpoint:
        """`new` signs from now on; the newest secrets before it sign on for the grace
        period, MAX_SIGNING_SECRETS in all. A rotation applies once: if its earlier try
        saved a secret (same rotation_id) and died before answering, nobody holds that one,
        so `new` takes its place (and its retirement) instead of rotating again."""
        earlier = next(
            (s for s in self.secrets if new.rotation_id and s.rotation_id == new.rotation_id),
            None,
        )
        if earlier is not None:
            redone = replace(new, created_at=earlier.created_at, retires_at=earlier.retires_at)
            return replace(self, secrets=tuple(redone if s is earlier else s for s in self.secrets))
        kept = tuple(
            replace(s, retires_at=s.retires_at or now + ROTATION_GRACE_SECONDS)
            for s in self.signing_secrets(now)
        )
        return replace(self, secrets=(new, *kept[: MAX_SIGNING_SECRETS - 1]))

    @staticmethod
    def is_id(value: str) -> bool:
        """Whether `value` has the form of an endpoint id (we_ and 20 hex digits)."""
        return ENDPOINT_ID.fullmatch(value) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.endpoint_id,
            "merchantId": self.merchant_id,
            "url": self.url,
            "eventTypes": list(self.event_types or ALL_EVENT_TYPES),
            "createdAt": self.created_at,
        }


class InvalidDeliveryJobError(ValueError):
    """A message on the deliveries queue that is not a delivery job (poison)."""


# Past any time in ms or attempt count a job holds.
_LARGEST_NUMBER = 10**15


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise InvalidDeliveryJobError(f"not a delivery job: {name}")
    return value


def _number(raw: dict[str, Any], name: str, *, whole: bool = False) -> float:
    value = raw.get(name)
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise InvalidDeliveryJobError(f"not a delivery job: {name}")
    # Compared before any conversion: a huge int never becomes a float (OverflowError).
    if not (-_LARGEST_NUMBER <= value <= _LARGEST_NUMBER) or not math.isfinite(value):
        raise InvalidDeliveryJobError(f"not a delivery job: {name}")
    return value


@dataclass(frozen=True)
class DeliveryJob:
    """One attempt to deliver an event to an endpoint, due at `due_at`.

    Attempts follow one another in a chain: the event publisher starts chain 0, each
    replay a newer one (its start time in ms). Only the next attempt of the newest chain is
    recorded, so a job SQS hands over twice, or a chain a replay superseded, ends there
    instead of forking a second series of retries."""

    event_id: str
    endpoint_id: str
    merchant_id: str
    attempt: int
    due_at: float
    first_attempt_at: float | None = None
    # Sent on purpose again (`paygate webhooks replay`): delivered even if it was before.
    replay: bool = False
    chain: int = 0
    # Queued to the slow lane (its endpoint was slow): sent with the whole time-out.
    slow: bool = False

    @classmethod
    def replayed(
        cls, event_id: str, endpoint_id: str, merchant_id: str, now: float, *, replay: bool
    ) -> DeliveryJob:
        """The first attempt of a new chain, superseding any before it."""
        return cls(event_id, endpoint_id, merchant_id, 1, now, replay=replay, chain=int(now * 1000))

    def to_body(self) -> str:
        return json.dumps(
            {
                "eventId": self.event_id,
                "endpointId": self.endpoint_id,
                "merchantId": self.merchant_id,
                "attempt": self.attempt,
                "dueAt": self.due_at,
                "firstAttemptAt": self.first_attempt_at,
                "replay": self.replay,
                "chain": self.chain,
            }
            | ({"slow": True} if self.slow else {}),
            separators=(",", ":"),
        )

    @classmethod
    def from_body(cls, body: str) -> DeliveryJob:
        """InvalidDeliveryJobError for anything that is not a job, whatever the body (huge,
        binary, nested thousands deep, numbers out of range)."""
        try:
            raw = queued_json_object(body, "delivery job")
        except ValueError as error:
            raise InvalidDeliveryJobError(str(error)) from None
        event = _text(raw, "eventId")
        if parse_event_id(event) is None:
            raise InvalidDeliveryJobError("not a delivery job: eventId")
        attempt = int(_number(raw, "attempt", whole=True))
        chain = int(_number(raw, "chain", whole=True)) if "chain" in raw else 0
        if attempt < 1 or chain < 0:
            raise InvalidDeliveryJobError("not a delivery job: attempt or chain")
        first = raw.get("firstAttemptAt")
        return cls(
            event_id=event,
            endpoint_id=_text(raw, "endpointId"),
            merchant_id=_text(raw, "merchantId"),
            attempt=attempt,
            due_at=float(_number(raw, "dueAt")),
            first_attempt_at=None if first is None else float(_number(raw, "firstAttemptAt")),
            replay=raw.get("replay") is True,
            chain=chain,
            slow=raw.get("slow") is True,
        )

    def retry_at(self, due_at: float, first_attempt_at: float, *, slow: bool) -> DeliveryJob:
        return replace(
            self,
            attempt=self.attempt + 1,
            due_at=due_at,
            first_attempt_at=first_attempt_at,
            slow=slow,
        )


@dataclass(frozen=True)
class DeliveryProgress:
    """How far the delivery of an event to one endpoint has got: its state and the last
    attempt recorded, of which chain; and, until what follows that attempt (the next
    attempt, or the DLQ) is confirmed queued, when the next attempt is due."""

    state: str
    chain: int
    attempt: int
    follow_up_pending: bool = False
    next_at: float | None = None
    first_attempt_at: float | None = None

    def is_of(self, job: DeliveryJob) -> bool:
        return (self.chain, self.attempt) == (job.chain, job.attempt)

    def covers(self, job: DeliveryJob) -> bool:
        """Whether the job is a repeat of an attempt recorded already, or of a chain a newer
        one replaced."""
        return self.chain > job.chain or (self.chain == job.chain and self.attempt >= job.attempt)


@dataclass(frozen=True)
class SendResult:
    """What one POST got: an HTTP status, or why there was none."""

    milliseconds: int
    status: int | None = None
    error: str | None = None
    # No answer (or no connection) within the time given.
    timed_out: bool = False
    # An answer within the fast lane's time (core/domain/webhook_retry.py).
    fast_enough: bool = False


@dataclass(frozen=True)
class Attempt:
    at: float
    milliseconds: int
    status: int | None = None
    error: str | None = None

    @classmethod
    def of(cls, at: float, result: SendResult) -> Attempt:
        return cls(at, result.milliseconds, result.status, result.error)

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"at": int(self.at), "ms": self.milliseconds}
        if self.status is not None:
            answer["status"] = self.status
        if self.error:
            answer["error"] = self.error
        return answer


class DeliveryState:
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"
    # Never tried again, for a reason other than the retry budget (`Delivery.reason`).
    ENDED = "ended"


ENDPOINT_REMOVED = "the endpoint was removed"


@dataclass(frozen=True)
class Delivery:
    endpoint_id: str
    url: str
    state: str
    attempts: tuple[Attempt, ...] = ()
    reason: str | None = None

    def ended_unless_live(self, live_endpoint_ids: set[str]) -> Delivery:
        """As the merchant should see it: a delivery still retrying to an endpoint that
        was removed is ended, whether or not its next job has come by to record it."""
        if self.state != DeliveryState.RETRYING or self.endpoint_id in live_endpoint_ids:
            return self
        return replace(self, state=DeliveryState.ENDED, reason=ENDPOINT_REMOVED)

    def to_json(self) -> dict[str, Any]:
        answer = {
            "endpointId": self.endpoint_id,
            "url": self.url,
            "state": self.state,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }
        return answer | ({"reason": self.reason} if self.reason else {})


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    type: str
    created: int
    payment_id: str
    merchant_id: str
    version: int
    # The exact bytes every delivery of it sends (and signs).
    body: str
    deliveries: tuple[Delivery, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event | {"deliveries": [d.to_json() for d in self.deliveries]}


class EventStore(Protocol):
    def put_all(self, events: Sequence[tuple[WebhookEvent, str]]) -> None:
        """Store each event with the body every delivery of it sends, in as few requests as
        the store allows. An event stored again (its stream record handed over twice) is
        the same one event; its deliveries are entries of their own, untouched."""
        ...

    def get(self, event_id: str) -> StoredEvent | None: ...
    def get_for_delivery(
        self, event_id: str, endpoint_id: str
    ) -> tuple[StoredEvent | None, DeliveryProgress | None]: ...
    def record_attempt(
        self,
        job: DeliveryJob,
        url: str,
        attempt: Attempt,
        state: str,
        *,
        next_at: float | None = None,
        first_attempt_at: float | None = None,
    ) -> bool: ...
    def end_delivery(self, job: DeliveryJob, reason: str) -> None: ...
    def follow_up_queued(self, job: DeliveryJob) -> None: ...
    def events_of(self, payment_id: str) -> list[StoredEvent]: ...
    def event_ids_since(self, since: int, until: int) -> Iterator[str]: ...


class EndpointStore(Protocol):
    def add(self, endpoint: WebhookEndpoint) -> None: ...
    def get(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...
    def list(self, merchant_id: str) -> list[WebhookEndpoint]: ...
    def remove(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...
    def save_secrets(self, endpoint: WebhookEndpoint) -> bool: ...
    def mark_slow(self, merchant_id: str, endpoint_id: str, until: float) -> None:
        """Its deliveries go to the slow lane until `until` (0: no longer); nothing if the
        endpoint is gone."""
        ...

    def hold_slow_send(self, merchant_id: str, now: float, until: float) -> int | None:
        """One of the merchant's SLOW_SENDS_PER_MERCHANT places for a fast-lane send past
        its patience (core/domain/webhook_retry.py), held until `until` unless freed first:
        its number, or None while every one is held."""
        ...

    def free_slow_send(self, merchant_id: str, place: int, until: float) -> None:
        """The place held until `until` free again (nothing if its hold ran out and another
        send holds it now)."""
        ...


class SecretVault(Protocol):
    def encrypt(self, secret: str, *, merchant_id: str, endpoint_id: str) -> bytes: ...
    def decrypt(self, ciphertext: bytes, *, merchant_id: str, endpoint_id: str) -> str: ...


@dataclass(frozen=True)
class DeadLetterReplay:
    # The first attempts of the new chains (that would be) queued.
    jobs: tuple[DeliveryJob, ...]
    # Message ids left in the DLQ: not delivery jobs.
    unreadable: tuple[str, ...] = ()
    # Second letters for a delivery already replayed by this run: deleted (or would be).
    duplicates: int = 0


@dataclass
class DeadLetterReplayRun:
    """What a replay of the deliveries' DLQ does with each letter, in the order they are
    read: a delivery job is replayed once, as the first attempt of a new chain with a fresh
    retry budget; a second letter for the same delivery (a run that died after dead-
    lettering it) is dropped; anything else is not a delivery job and left for a person to
    read."""

    now: float
    limit: int
    _jobs: list[DeliveryJob] = field(default_factory=list)
    _unreadable: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _duplicates: int = 0

    @property
    def room(self) -> int:
        """How many more letters may be replayed."""
        return self.limit - len(self._jobs)

    def judge(self, message_id: str, body: str) -> tuple[LetterAction, DeliveryJob | None]:
        """What to do with the letter, and for a replay the job to queue."""
        try:
            job = DeliveryJob.from_body(body)
        except InvalidDeliveryJobError:
            self._unreadable.append(message_id)
            return LetterAction.LEFT, None
        if (job.event_id, job.endpoint_id) in self._seen:
            self._duplicates += 1
            return LetterAction.DROPPED, None
        self._seen.add((job.event_id, job.endpoint_id))
        fresh = DeliveryJob.replayed(
            job.event_id, job.endpoint_id, job.merchant_id, self.now, replay=False
        )
        self._jobs.append(fresh)
        return LetterAction.REPLAYED, fresh

    def report(self) -> DeadLetterReplay:
        return DeadLetterReplay(tuple(self._jobs), tuple(self._unreadable), self._duplicates)


def replay_delivery_letters(
    letters: LetterHold,
    publish: Callable[[Sequence[DeliveryJob], float], None],
    now: float,
    *,
    dry_run: bool,
    limit: int,
) -> DeadLetterReplay:
    """The deliveries' DLQ replayed as DeadLetterReplayRun judges each letter, until
    `limit` are replayed (core/domain/held_letters.py settle: a replay is published first
    and deleted second, so a crash in between can only deliver one twice, which receivers
    dedupe). What is left is visible again at once."""
    run = DeadLetterReplayRun(now, limit)
    with letters.holding(max(limit, MAX_LETTERS)) as held:
        settle(
            held,
            lambda letter: letter,
            lambda letter: run.judge(letter.message_id, letter.body),
            lambda job: publish([job], now),
            dry_run=dry_run,
            enough=lambda: run.room <= 0,
        )
    return run.report()


class DeliveryQueue(Protocol):
    def publish(self, jobs: Sequence[DeliveryJob], now: float) -> None: ...
    def dead_letter(self, job: DeliveryJob, reason: str) -> None: ...
    def dead_letter_unreadable(self, body: str, reason: str) -> None: ...
    def replay_dead_letters(self, now: float, *, dry_run: bool, limit: int) -> DeadLetterReplay: ...


class WebhookSender(Protocol):
    def send(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        slow_lane: bool = False,
        keep_waiting: Callable[[], bool] | None = None,
    ) -> SendResult:
        """Within the fast lane's time, or in the slow lane the whole time-out. In the fast
        lane, with no answer after the patience, `keep_waiting` is asked once whether to wait
        on; if not, the send is cut there, late."""
        ...

    def check(self, url: str) -> None:
        """InvalidWebhookUrlError unless paygate may deliver to the URL as it resolves now."""
        ...
