"""Webhook endpoints, deliveries and what the use cases need of storage, queues and HTTP
(ports: the adapters implement them)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.domain.webhook_events import ALL_EVENT_TYPES, WebhookEvent

# How long a rotated-out secret keeps signing, so receivers can switch over.
ROTATION_GRACE_SECONDS = 24 * 3600
MAX_ENDPOINTS_PER_MERCHANT = 16


@dataclass(frozen=True)
class EndpointSecret:
    ciphertext: bytes
    created_at: int
    # When it stops signing (set when a newer secret replaces it).
    retires_at: int | None = None

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

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def rotated(self, new: EndpointSecret, now: int) -> WebhookEndpoint:
        kept = tuple(
            replace(s, retires_at=s.retires_at or now + ROTATION_GRACE_SECONDS)
            for s in self.secrets
            if s.in_use(now)
        )
        return replace(self, secrets=(new, *kept))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.endpoint_id,
            "merchantId": self.merchant_id,
            "url": self.url,
            "eventTypes": list(self.event_types or ALL_EVENT_TYPES),
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class DeliveryJob:
    """One attempt to deliver an event to an endpoint, due at `due_at`."""

    event_id: str
    endpoint_id: str
    merchant_id: str
    attempt: int
    due_at: float
    first_attempt_at: float | None = None
    # Sent on purpose again (`paygate webhooks replay`): delivered even if it was before.
    replay: bool = False

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
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_body(cls, body: str) -> DeliveryJob:
        raw = json.loads(body)
        return cls(
            event_id=str(raw["eventId"]),
            endpoint_id=str(raw["endpointId"]),
            merchant_id=str(raw["merchantId"]),
            attempt=int(raw["attempt"]),
            due_at=float(raw["dueAt"]),
            first_attempt_at=(
                float(raw["firstAttemptAt"]) if raw.get("firstAttemptAt") is not None else None
            ),
            replay=bool(raw.get("replay", False)),
        )

    def retry_at(self, due_at: float, first_attempt_at: float) -> DeliveryJob:
        return replace(
            self, attempt=self.attempt + 1, due_at=due_at, first_attempt_at=first_attempt_at
        )


@dataclass(frozen=True)
class SendResult:
    """What one POST got: an HTTP status, or why there was none."""

    milliseconds: int
    status: int | None = None
    error: str | None = None


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


@dataclass(frozen=True)
class Delivery:
    endpoint_id: str
    url: str
    state: str
    attempts: tuple[Attempt, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "endpointId": self.endpoint_id,
            "url": self.url,
            "state": self.state,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }


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
    queued: bool = False
    deliveries: tuple[Delivery, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event | {"deliveries": [d.to_json() for d in self.deliveries]}


class EventStore(Protocol):
    def add(self, event: WebhookEvent, body: str) -> bool: ...
    def get(self, event_id: str) -> StoredEvent | None: ...
    def mark_queued(self, event_id: str) -> None: ...
    def get_for_delivery(
        self, event_id: str, endpoint_id: str
    ) -> tuple[StoredEvent | None, str | None]: ...
    def record_attempt(
        self, event_id: str, endpoint_id: str, url: str, attempt: Attempt, state: str
    ) -> None: ...
    def events_of(self, payment_id: str) -> list[StoredEvent]: ...
    def event_ids_since(self, since: int, until: int) -> Iterator[str]: ...


class EndpointStore(Protocol):
    def add(self, endpoint: WebhookEndpoint) -> None: ...
    def get(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...
    def list(self, merchant_id: str) -> list[WebhookEndpoint]: ...
    def remove(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...
    def save_secrets(self, endpoint: WebhookEndpoint) -> None: ...


class SecretVault(Protocol):
    def encrypt(self, secret: str, *, merchant_id: str, endpoint_id: str) -> bytes: ...
    def decrypt(self, ciphertext: bytes, *, merchant_id: str, endpoint_id: str) -> str: ...


class DeliveryQueue(Protocol):
    def publish(self, jobs: Sequence[DeliveryJob], now: float) -> None: ...
    def dead_letter(self, job: DeliveryJob, reason: str) -> None: ...
    def replay_dead_letters(
        self, now: float, *, dry_run: bool, limit: int
    ) -> list[DeliveryJob]: ...


class WebhookSender(Protocol):
    def send(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult: ...
