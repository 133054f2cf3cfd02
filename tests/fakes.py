"""In-memory fakes of the ports (core/domain/ports.py), for the fast unit tier: the use cases
run on them without moto. Each fake keeps the semantics its adapter promises, and the
contract suites (tests/contract/) hold fake and adapter to the same tests."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from core.adapters.sqs_deliveries import SQS_MAX_DELAY_SECONDS
from core.domain.bank_simulation import REFUND_DECLINED_AMOUNT
from core.domain.cards import CardSecret
from core.domain.errors import (
    BankTimeoutError,
    BankUnavailableError,
    ConcurrentUpdateError,
    InvalidCursorError,
    PaymentExistsError,
    QueueUnavailableError,
    TooManyEndpointsError,
    TransitionRejectedError,
)
from core.domain.jobs import PaymentJob
from core.domain.payment import (
    CREATED_VERSION,
    PROCESSING_FAILED,
    BankOutcome,
    FailureNotes,
    Payment,
    PaymentDetails,
    PaymentStatus,
)
from core.domain.ports import AuthorizationRequest, PaymentPage, QueueDepth, StalledPayment
from core.domain.reconcile_policy import ReconcilePolicy
from core.domain.refunds import REFUND_DECLINED, REFUND_SUCCEEDED, RefundOutcome, RefundStatus
from core.domain.webhook_events import WebhookEvent
from core.domain.webhook_retry import (
    DELIVERY_TIMEOUT_SECONDS,
    FAST_LANE_PATIENCE_SECONDS,
    FAST_LANE_SECONDS,
    SLOW_SENDS_PER_MERCHANT,
)
from core.domain.webhook_urls import InvalidWebhookUrlError
from core.domain.webhooks import (
    MAX_ENDPOINTS_PER_MERCHANT,
    Attempt,
    DeadLetterReplay,
    Delivery,
    DeliveryJob,
    DeliveryProgress,
    DeliveryState,
    SendResult,
    StoredEvent,
    WebhookEndpoint,
    replay_delivery_letters,
)
from tests.fakes_letters import InMemoryLetterHold, StoredLetter
from tests.support import FakeClock

PAGE_ITEMS = 100


class InMemoryPaymentStore:
    """PaymentStore on a dict: every write conditional as in DynamoPaymentStore, the
    in-flight index kept as a reconcile time per payment in flight."""

    def __init__(self, policy: ReconcilePolicy) -> None:
        self._policy = policy
        self._payments: dict[str, Payment] = {}
        self._reconcile_at: dict[str, int] = {}
        # A dead-letter note on a payment with no failure noted yet waits for one.
        self._receives: dict[str, int] = {}
        self.writes = 0

    def _put(self, payment: Payment, reconcile_at: int | None = None) -> None:
        self.writes += 1
        self._payments[payment.payment_id] = payment
        look_at = self._policy.next_look(payment)
        if look_at is not None:
            self._reconcile_at[payment.payment_id] = (
                reconcile_at if reconcile_at is not None else look_at
            )
        else:
            self._reconcile_at.pop(payment.payment_id, None)

    def _at_version(self, payment: Payment, *, in_flight: bool) -> Payment:
        stored = self._payments.get(payment.payment_id)
        if stored is None or stored.version != payment.version:
            raise ConcurrentUpdateError(payment.payment_id)
        if in_flight and payment.payment_id not in self._reconcile_at:
            raise ConcurrentUpdateError(payment.payment_id)
        return stored

    def add(self, payment: Payment) -> None:
        if payment.payment_id in self._payments:
            raise PaymentExistsError(payment.payment_id)
        self._put(payment)

    def renew_expired(self, expired: Payment, renewed: Payment) -> None:
        stored = self._payments.get(expired.payment_id)
        if (
            stored is None
            or stored.status is not PaymentStatus.CREATED
            or stored.version != expired.version
            or stored.expires_at is None
            or stored.expires_at > renewed.created_at
        ):
            raise ConcurrentUpdateError(expired.payment_id)
        self._put(renewed)

    def get(self, payment_id: str) -> Payment | None:
        return self._payments.get(payment_id)

    def mark_processing(
        self,
        *,
        payment_id: str,
        merchant_id: str,
        details: PaymentDetails,
        card_ciphertext: bytes,
        correlation_id: str,
        now: int,
    ) -> Payment:
        stored = self._payments.get(payment_id)
        if stored is None or not stored.takes_card_from(merchant_id, now):
            raise TransitionRejectedError(stored)
        processing = replace(
            stored,
            status=PaymentStatus.PROCESSING,
            version=CREATED_VERSION + 1,
            updated_at=now,
            expires_at=None,
            details=details,
            card_ciphertext=card_ciphertext,
            correlation_id=correlation_id,
        )
        self._put(processing, reconcile_at=now + self._policy.reconcile_after_seconds)
        return processing

    def save_transition(self, before: Payment, after: Payment) -> None:
        if after.version != before.version + 1:
            raise ValueError("a state change raises the version by exactly one")
        self._at_version(before, in_flight=False)
        self._receives.pop(after.payment_id, None)
        self._put(after)

    def note_failure(self, payment: Payment, reason: str, now: int) -> None:
        try:
            stored = self._at_version(payment, in_flight=False)
        except ConcurrentUpdateError:
            return
        earlier = stored.failure
        failure = FailureNotes(
            reason=reason,
            first_at=earlier.first_at if earlier else now,
            last_at=now,
            count=(earlier.count if earlier else 0) + 1,
            dead_letter_receives=(
                earlier.dead_letter_receives if earlier else self._receives.get(payment.payment_id)
            ),
        )
        self._update(stored, failure=failure)

    def note_dead_lettered(self, payment_id: str, receives: int) -> None:
        stored = self._payments.get(payment_id)
        if stored is None or payment_id not in self._reconcile_at:
            return
        if stored.failure is None:
            self._receives[payment_id] = receives
            return
        self._update(stored, failure=replace(stored.failure, dead_letter_receives=receives))

    def note_enqueue_failed(self, payment: Payment) -> None:
        self._update(self._at_version(payment, in_flight=True), enqueue_failed=True)

    def note_enqueued(self, payment: Payment) -> None:
        self._update(self._at_version(payment, in_flight=True), enqueue_failed=False)

    def touch_progress(self, payment: Payment, now: int) -> None:
        stored = self._at_version(payment, in_flight=True)
        self._update(
            stored,
            reconcile_at=self._policy.next_look(payment, now) or now,
            reconcile_count=payment.reconcile_count + 1,
            reconciled_at=now,
        )

    def note_waiting(self, payment: Payment, look_at: int) -> None:
        self._update(self._at_version(payment, in_flight=True), reconcile_at=look_at)

    def erase_card(self, payment: Payment) -> None:
        self._update(self._at_version(payment, in_flight=False), card_ciphertext=None)

    def _update(self, stored: Payment, reconcile_at: int | None = None, **changes: object) -> None:
        """A change that is not a state change: the version and reconcile time stay."""
        kept = (
            reconcile_at if reconcile_at is not None else self._reconcile_at.get(stored.payment_id)
        )
        self._put(replace(stored, **changes), reconcile_at=kept)  # type: ignore[arg-type]

    def list_for_merchant(
        self,
        *,
        merchant_id: str,
        created_from: int,
        created_to: int,
        status: PaymentStatus | None,
        limit: int,
        after: str | None,
        now: int,
    ) -> PaymentPage:
        newest_first = sorted(
            (
                p
                for p in self._payments.values()
                if p.merchant_id == merchant_id and created_from <= p.created_at <= created_to
            ),
            key=lambda p: (p.created_at, p.payment_id),
            reverse=True,
        )
        if after is not None:
            start = _listing_key(after, merchant_id)
            newest_first = [p for p in newest_first if (p.created_at, p.payment_id) < start]
        matching = [
            p
            for p in newest_first
            if not p.is_expired(now) and (status is None or p.status is status)
        ]
        page = matching[:limit]
        more = len(matching) > limit
        return PaymentPage(page, _position(page[-1]) if more else None)

    def stalled_pages(self, now: int) -> Iterator[list[StalledPayment]]:
        return self._in_flight_pages(due_by=now)

    def in_flight_pages(self) -> Iterator[list[StalledPayment]]:
        return self._in_flight_pages(due_by=None)

    def _in_flight_pages(self, due_by: int | None) -> Iterator[list[StalledPayment]]:
        due = sorted(
            (StalledPayment(payment_id, at) for payment_id, at in self._reconcile_at.items()),
            key=lambda stalled: (stalled.reconcile_at, stalled.payment_id),
        )
        due = [s for s in due if due_by is None or s.reconcile_at <= due_by]
        for start in range(0, max(len(due), 1), PAGE_ITEMS):
            yield due[start : start + PAGE_ITEMS]

    def count_by_status(self, max_items: int) -> tuple[dict[str, int], bool]:
        statuses = [p.status.value for p in self._payments.values()]
        return dict(Counter(statuses[:max_items])), len(statuses) > max_items


def _position(payment: Payment) -> str:
    return json.dumps(
        {"m": payment.merchant_id, "c": payment.created_at, "p": payment.payment_id},
        separators=(",", ":"),
    )


def _listing_key(position: str, merchant_id: str) -> tuple[int, str]:
    try:
        document = json.loads(position)
        if document["m"] == merchant_id:
            return int(document["c"]), str(document["p"])
    except (ValueError, TypeError, KeyError):
        pass
    raise InvalidCursorError("the cursor is not valid for this listing")


class InvalidCiphertextError(Exception):
    """Like KMS's InvalidCiphertextException: not ours, or bound to another payment."""


class _LocalCipher:
    """Authenticated encryption with a local key, bound to a context (as KMS binds a
    ciphertext to its encryption context): the vaults' one cipher."""

    def __init__(self, name: bytes) -> None:
        self._key = hashlib.sha256(name).digest()

    def _stream(self, length: int, context: bytes) -> bytes:
        blocks = b""
        counter = 0
        while len(blocks) < length:
            blocks += hmac.new(self._key, context + bytes([counter]), hashlib.sha256).digest()
            counter += 1
        return blocks[:length]

    def seal(self, plain: bytes, context: bytes) -> bytes:
        masked = bytes(a ^ b for a, b in zip(plain, self._stream(len(plain), context), strict=True))
        tag = hmac.new(self._key, context + masked, hashlib.sha256).digest()
        return tag + masked

    def open(self, ciphertext: bytes, context: bytes) -> bytes:
        tag, masked = ciphertext[:32], ciphertext[32:]
        expected = hmac.new(self._key, context + masked, hashlib.sha256).digest()
        if not hmac.compare_digest(tag, expected):
            raise InvalidCiphertextError("the ciphertext is not for this context")
        return bytes(a ^ b for a, b in zip(masked, self._stream(len(masked), context), strict=True))


class InMemoryCardVault:
    """CardVault with a local key: the ciphertext is bound to its payment and merchant, and
    holds no card digit in the clear."""

    def __init__(self) -> None:
        self._cipher = _LocalCipher(b"in-memory card vault")
        self.decrypted = 0

    def encrypt(self, card: CardSecret, *, payment_id: str, merchant_id: str) -> bytes:
        return self._cipher.seal(card.to_bytes(), f"{payment_id}|{merchant_id}".encode())

    def decrypt(self, ciphertext: bytes, *, payment_id: str, merchant_id: str) -> CardSecret:
        plain = self._cipher.open(ciphertext, f"{payment_id}|{merchant_id}".encode())
        self.decrypted += 1
        return CardSecret.from_bytes(plain)


@dataclass
class InMemoryJobQueue:
    """JobPublisher that keeps what was published; `unavailable` publishes fail as SQS
    failing after its retries does."""

    published: list[tuple[PaymentJob, int]] = field(default_factory=list)
    unavailable: int = 0

    def publish(self, job: PaymentJob, *, delay_seconds: int = 0) -> None:
        if self.unavailable:
            self.unavailable -= 1
            raise QueueUnavailableError("the jobs queue is unavailable")
        self.published.append((job, delay_seconds))

    def publish_many(self, jobs: Sequence[PaymentJob]) -> list[PaymentJob]:
        unqueued = []
        for job in jobs:
            try:
                self.publish(job)
            except QueueUnavailableError:
                unqueued.append(job)
        return unqueued

    def take(self) -> list[tuple[PaymentJob, int]]:
        taken, self.published = self.published, []
        return taken

    def depth(self) -> QueueDepth:
        return QueueDepth(visible=len(self.published), in_flight=0, delayed=0)


class FakeBank:
    """Bank that answers `answers[amount]` (Accepted otherwise), once per idempotency key;
    a Pending one resolves to `pending_becomes` when inquired about; `unavailable` calls
    fail as a bank outage does; a voided key is never authorized afterwards."""

    def __init__(
        self,
        answers: dict[int, BankOutcome] | None = None,
        pending_becomes: BankOutcome | None = None,
    ) -> None:
        self.answers = answers or {}
        self.pending_becomes = pending_becomes
        self.unavailable = 0
        self.ledger: dict[str, BankOutcome] = {}
        self.calls: list[tuple[str, str]] = []
        # Refunds of these amounts are declined (the simulated bank's: 3).
        self.refund_answers: dict[int, RefundOutcome] = {REFUND_DECLINED_AMOUNT: REFUND_DECLINED}
        self.operations: dict[str, RefundOutcome] = {}
        # Captures and refunds of these amounts are never answered (the simulated bank's 504).
        self.never_answers: set[int] = set()
        self.moved: list[tuple[str, str, int]] = []

    def _call(self, kind: str, key: str) -> None:
        self.calls.append((kind, key))
        if self.unavailable:
            self.unavailable -= 1
            raise BankUnavailableError("the bank is unavailable (fake outage)")

    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        self._call("authorize", idempotency_key)
        if idempotency_key not in self.ledger:
            answer = self.answers.get(request.amount, BankOutcome(PaymentStatus.ACCEPTED))
            self.ledger[idempotency_key] = answer
        return self.ledger[idempotency_key]

    def inquire(self, idempotency_key: str) -> BankOutcome | None:
        self._call("inquire", idempotency_key)
        entry = self.ledger.get(idempotency_key)
        if entry is not None and entry.status is PaymentStatus.PENDING and self.pending_becomes:
            self.ledger[idempotency_key] = entry = self.pending_becomes
        return entry

    def void_unless_decided(self, idempotency_key: str) -> BankOutcome | None:
        self._call("void", idempotency_key)
        entry = self.ledger.get(idempotency_key)
        if entry is not None and entry.status.is_final and entry != PROCESSING_FAILED:
            return entry
        self.ledger[idempotency_key] = PROCESSING_FAILED
        return None

    def capture(self, payment_id: str, amount: int, *, idempotency_key: str) -> None:
        self._move("capture", payment_id, amount, idempotency_key, REFUND_SUCCEEDED)

    def void(self, payment_id: str, *, idempotency_key: str) -> None:
        self._move("void", payment_id, 0, idempotency_key, REFUND_SUCCEEDED)

    def refund(self, payment_id: str, amount: int, *, idempotency_key: str) -> RefundOutcome:
        answer = self.refund_answers.get(amount, REFUND_SUCCEEDED)
        return self._move("refund", payment_id, amount, idempotency_key, answer)

    def _move(
        self, kind: str, payment_id: str, amount: int, key: str, answer: RefundOutcome
    ) -> RefundOutcome:
        """Once per key: the money moves on the first call only (`moved` keeps every
        movement, for the invariants)."""
        self._call(kind, key)
        if amount in self.never_answers:
            raise BankTimeoutError(f"the bank did not answer the {kind}")
        if key not in self.operations:
            self.operations[key] = answer
            if answer.status is RefundStatus.SUCCEEDED:
                self.moved.append((kind, payment_id, amount))
        return self.operations[key]

    def total(self, kind: str, payment_id: str) -> int:
        """What the bank moved of `kind` (capture, refund) for the payment."""
        return sum(a for k, p, a in self.moved if (k, p) == (kind, payment_id))

    def authorizations(self, key: str) -> int:
        return self.calls.count(("authorize", key))


class InMemoryMac:
    """Mac with a local key."""

    def __init__(self, key: bytes = b"in-memory mac key") -> None:
        self._key = key

    def sign(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, message: bytes, mac: str) -> bool:
        return hmac.compare_digest(self.sign(message), mac)


class CountingMetrics:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}
        self.timings: dict[str, list[float]] = {}

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def milliseconds(self, name: str, value: float) -> None:
        self.timings.setdefault(name, []).append(value)


@dataclass
class _Message:
    job: PaymentJob
    visible_at: float
    receives: int = 0


class VirtualSqsQueue:
    """JobPublisher that behaves as an SQS standard queue on a virtual clock: a message is
    received when visible (oldest first), a failed receive leaves it invisible for the
    visibility timeout, and the receive that reaches `max_receives` without a delete moves
    it to the dead letters. `sent` counts every job ever published."""

    def __init__(
        self, now: Callable[[], float], *, visibility_seconds: float, max_receives: int
    ) -> None:
        self._now = now
        self._visibility = visibility_seconds
        self._max_receives = max_receives
        self._messages: dict[int, _Message] = {}
        self._next_id = 0
        self.sent = 0
        self.dead_letters: list[PaymentJob] = []

    def publish(self, job: PaymentJob, *, delay_seconds: int = 0) -> None:
        self.sent += 1
        self._messages[self._next_id] = _Message(job, self._now() + delay_seconds)
        self._next_id += 1

    def publish_many(self, jobs: Sequence[PaymentJob]) -> list[PaymentJob]:
        for job in jobs:
            self.publish(job)
        return []

    def receive(self, most: int) -> list[tuple[int, PaymentJob, int]]:
        """Up to `most` visible messages (id, job, receive count), now invisible."""
        now = self._now()
        taken = [
            (handle, message)
            for handle, message in sorted(self._messages.items())
            if message.visible_at <= now
        ][:most]
        for _, message in taken:
            message.receives += 1
            message.visible_at = now + self._visibility
        return [(handle, message.job, message.receives) for handle, message in taken]

    def delete(self, handle: int) -> None:
        self._messages.pop(handle, None)

    def fail(self, handle: int) -> None:
        """The receive failed: visible again after its visibility timeout, or dead."""
        message = self._messages[handle]
        if message.receives >= self._max_receives:
            self.dead_letters.append(self._messages.pop(handle).job)

    def depth(self) -> QueueDepth:
        now = self._now()
        visible = sum(m.visible_at <= now and m.receives == 0 for m in self._messages.values())
        redelivered = sum(m.visible_at <= now and m.receives > 0 for m in self._messages.values())
        hidden = [m for m in self._messages.values() if m.visible_at > now]
        return QueueDepth(
            visible=visible + redelivered,
            in_flight=sum(m.receives > 0 for m in hidden),
            delayed=sum(m.receives == 0 for m in hidden),
        )

    def __len__(self) -> int:
        return len(self._messages)


# Webhooks (core/domain/webhooks.py): the events table, the endpoints table, the secrets'
# key, the deliveries queues and the HTTP sender, as their adapters promise.


@dataclass
class _DeliveryItem:
    """One delivery's entry, as DynamoEventStore keeps it."""

    url: str
    state: str
    chain: int
    last_attempt: int
    attempts: list[Attempt]
    follow_up: bool
    next_at: float | None
    first_at: float | None
    reason: str | None = None

    def progress(self) -> DeliveryProgress:
        return DeliveryProgress(
            self.state,
            self.chain,
            self.last_attempt,
            self.follow_up,
            self.next_at,
            self.first_at,
        )


class InMemoryEventStore:
    """EventStore on dicts, with DynamoEventStore's conditions: an event is one item, however
    often it is stored; an attempt is recorded only over an older one of its chain or an
    older chain (a repeat job's write is refused); a delivery is ended only while retrying
    in the job's chain or an older one; a follow-up is marked queued only for the attempt
    recorded last."""

    def __init__(self) -> None:
        self._events: dict[str, StoredEvent] = {}
        self._deliveries: dict[tuple[str, str], _DeliveryItem] = {}

    def put_all(self, events: Sequence[tuple[WebhookEvent, str]]) -> None:
        for event, body in events:
            self._events[event.id] = StoredEvent(
                event.id,
                event.type,
                event.created,
                event.payment_id,
                event.merchant_id,
                event.version,
                body,
            )

    def get(self, event_id: str) -> StoredEvent | None:
        return self._events.get(event_id)

    def get_for_delivery(
        self, event_id: str, endpoint_id: str
    ) -> tuple[StoredEvent | None, DeliveryProgress | None]:
        delivery = self._deliveries.get((event_id, endpoint_id))
        return self._events.get(event_id), delivery.progress() if delivery else None

    def record_attempt(
        self,
        job: DeliveryJob,
        url: str,
        attempt: Attempt,
        state: str,
        *,
        next_at: float | None = None,
        first_attempt_at: float | None = None,
    ) -> bool:
        key = (job.event_id, job.endpoint_id)
        stored = self._deliveries.get(key)
        if stored is not None and (stored.chain, stored.last_attempt) >= (job.chain, job.attempt):
            return False
        self._deliveries[key] = _DeliveryItem(
            url=url,
            state=state,
            chain=job.chain,
            last_attempt=job.attempt,
            attempts=[*(stored.attempts if stored else ()), attempt],
            follow_up=state != DeliveryState.DELIVERED,
            next_at=next_at,
            first_at=first_attempt_at,
            # The adapter's update leaves a reason written before in place.
            reason=stored.reason if stored else None,
        )
        return True

    def end_delivery(self, job: DeliveryJob, reason: str) -> None:
        stored = self._deliveries.get((job.event_id, job.endpoint_id))
        if stored and stored.state == DeliveryState.RETRYING and stored.chain <= job.chain:
            stored.state, stored.reason = DeliveryState.ENDED, reason
            stored.follow_up, stored.next_at = False, None

    def follow_up_queued(self, job: DeliveryJob) -> None:
        stored = self._deliveries.get((job.event_id, job.endpoint_id))
        if stored and (stored.chain, stored.last_attempt) == (job.chain, job.attempt):
            stored.follow_up = False

    def events_of(self, payment_id: str) -> list[StoredEvent]:
        """Oldest first, each with its deliveries in endpoint id order (the table's sort
        key)."""
        events = sorted(
            (e for e in self._events.values() if e.payment_id == payment_id),
            key=lambda e: e.version,
        )
        return [replace(event, deliveries=self._deliveries_of(event.event_id)) for event in events]

    def _deliveries_of(self, event_id: str) -> tuple[Delivery, ...]:
        return tuple(
            Delivery(endpoint_id, d.url, d.state, tuple(d.attempts), d.reason)
            for (event, endpoint_id), d in sorted(self._deliveries.items())
            if event == event_id
        )

    def event_ids_since(self, since: int, until: int) -> Iterator[str]:
        created = sorted((e.created, e.event_id) for e in self._events.values())
        return iter([event for at, event in created if since <= at <= until])


class InMemoryEndpointStore:
    """EndpointStore on a dict, with DynamoEndpointStore's rules: at most
    MAX_ENDPOINTS_PER_MERCHANT (TooManyEndpointsError, nothing written); an add of an id
    already there is a retry and does nothing; secrets are saved only over the revision they
    were read at; a slow mark (whole seconds) never brings a removed endpoint back; each
    merchant has SLOW_SENDS_PER_MERCHANT places, each held until its hold runs out or the
    holder frees it."""

    def __init__(self) -> None:
        self._endpoints: dict[tuple[str, str], WebhookEndpoint] = {}
        self._places: dict[tuple[str, int], float] = {}
        # How many times a merchant's endpoints were listed (a Query each, on DynamoDB).
        self.lists = 0

    def add(self, endpoint: WebhookEndpoint) -> None:
        key = (endpoint.merchant_id, endpoint.endpoint_id)
        if key in self._endpoints:
            return
        if len(self._of(endpoint.merchant_id)) >= MAX_ENDPOINTS_PER_MERCHANT:
            raise TooManyEndpointsError(MAX_ENDPOINTS_PER_MERCHANT)
        self._endpoints[key] = endpoint

    def get(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return self._endpoints.get((merchant_id, endpoint_id))

    def _of(self, merchant_id: str) -> list[WebhookEndpoint]:
        by_id = [e for (m, _), e in sorted(self._endpoints.items()) if m == merchant_id]
        return sorted(by_id, key=lambda e: e.created_at)

    def list(self, merchant_id: str) -> list[WebhookEndpoint]:
        self.lists += 1
        return self._of(merchant_id)

    def remove(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return self._endpoints.pop((merchant_id, endpoint_id), None)

    def save_secrets(self, endpoint: WebhookEndpoint) -> bool:
        key = (endpoint.merchant_id, endpoint.endpoint_id)
        stored = self._endpoints.get(key)
        if stored is None or stored.revision != endpoint.revision:
            return False
        self._endpoints[key] = replace(
            stored, secrets=endpoint.secrets, revision=endpoint.revision + 1
        )
        return True

    def mark_slow(self, merchant_id: str, endpoint_id: str, until: float) -> None:
        stored = self._endpoints.get((merchant_id, endpoint_id))
        if stored is not None:
            self._endpoints[(merchant_id, endpoint_id)] = replace(stored, slow_until=int(until))

    def hold_slow_send(self, merchant_id: str, now: float, until: float) -> int | None:
        for place in range(SLOW_SENDS_PER_MERCHANT):
            if self._places.get((merchant_id, place), 0.0) <= now:
                self._places[(merchant_id, place)] = until
                return place
        return None

    def free_slow_send(self, merchant_id: str, place: int, until: float) -> None:
        if self._places.get((merchant_id, place)) == until:
            del self._places[(merchant_id, place)]


class InMemorySecretVault:
    """SecretVault with a local key: a ciphertext opens only for its merchant and endpoint
    (InvalidCiphertextError otherwise), and holds no secret in the clear."""

    def __init__(self) -> None:
        self._cipher = _LocalCipher(b"in-memory webhook secrets")

    def encrypt(self, secret: str, *, merchant_id: str, endpoint_id: str) -> bytes:
        return self._cipher.seal(secret.encode(), f"{merchant_id}|{endpoint_id}".encode())

    def decrypt(self, ciphertext: bytes, *, merchant_id: str, endpoint_id: str) -> str:
        return self._cipher.open(ciphertext, f"{merchant_id}|{endpoint_id}".encode()).decode()


FAST_LANE, SLOW_LANE = "fast", "slow"


@dataclass
class QueuedDelivery:
    """A message on a deliveries queue: `handle` deletes or redelivers it."""

    handle: int
    lane: str
    job: DeliveryJob
    visible_at: float
    receives: int = 0


class InMemoryDeliveryQueue:
    """DeliveryQueue as SqsDeliveryQueue's two SQS standard queues and their DLQ, on a
    virtual clock (`now`): a job is visible once its delay is over (its due time, at most
    `max_delay_seconds` away: one due later is received early, and the use case sends it
    on); a received message is hidden for the visibility timeout and then handed over again
    unless deleted (at least once); past `max_receives` receives it goes to the DLQ, as the
    queues' redrive policy moves it. Dead-letter replays keep the adapter's rules.
    `unavailable` publishes fail, as SQS refusing a batch does (nothing queued).

    A scheduler drives it: `receive` what is due in a lane, `delete` what was handled,
    `redeliver` a message at once (SQS handing a copy over twice)."""

    def __init__(
        self,
        now: Callable[[], float],
        *,
        max_delay_seconds: int = SQS_MAX_DELAY_SECONDS,
        visibility_seconds: float = 60.0,
        max_receives: int | None = None,
    ) -> None:
        self._now = now
        self._max_delay = max_delay_seconds
        self._visibility = visibility_seconds
        self._max_receives = max_receives
        self._messages: dict[int, QueuedDelivery] = {}
        self._handles = itertools.count()
        self._dead_letters = InMemoryLetterHold("dl-")
        # Every job ever published, in order.
        self.published: list[DeliveryJob] = []
        self.unavailable = 0

    def publish(self, jobs: Sequence[DeliveryJob], now: float) -> None:
        if self.unavailable:
            self.unavailable -= 1
            raise QueueUnavailableError("the deliveries queue is unavailable")
        for job in jobs:
            delay = min(self._max_delay, max(0, math.ceil(job.due_at - now)))
            handle = next(self._handles)
            lane = SLOW_LANE if job.slow else FAST_LANE
            self._messages[handle] = QueuedDelivery(handle, lane, job, self._now() + delay)
            self.published.append(job)

    def dead_letter(self, job: DeliveryJob, reason: str) -> None:
        self.dead_letter_unreadable(job.to_body(), reason)

    def dead_letter_unreadable(self, body: str, reason: str) -> None:
        self._dead_letters.add(body, reason=reason[:1000])

    @property
    def dead_letters(self) -> list[StoredLetter]:
        return self._dead_letters.letters

    def replay_dead_letters(self, now: float, *, dry_run: bool, limit: int) -> DeadLetterReplay:
        return replay_delivery_letters(
            self._dead_letters, self.publish, now, dry_run=dry_run, limit=limit
        )

    def receive(self, lane: str = FAST_LANE, most: int = 10) -> list[QueuedDelivery]:
        """Up to `most` messages of the lane visible now, oldest first, hidden for the
        visibility timeout."""
        now = self._now()
        due = [m for m in self._messages.values() if m.lane == lane and m.visible_at <= now]

        def to_dead_letters(message: QueuedDelivery) -> None:
            del self._messages[message.handle]
            self.dead_letter(message.job, "received too often")

        return received(
            sorted(due, key=lambda m: (m.visible_at, m.handle)),
            most,
            now + self._visibility,
            self._max_receives,
            to_dead_letters,
        )

    def delete(self, handle: int) -> None:
        self._messages.pop(handle, None)

    def redeliver(self, handle: int) -> None:
        """Visible again at once: the next receive hands it over again."""
        self._messages[handle].visible_at = self._now()

    def next_visible_at(self) -> float | None:
        """When the next message becomes visible (None: the queues are empty)."""
        return min((m.visible_at for m in self._messages.values()), default=None)

    def waiting(self, lane: str | None = None) -> list[DeliveryJob]:
        """Every job on the queues (or one lane), visible or not."""
        return [m.job for m in self._messages.values() if lane in (None, m.lane)]


class _Receivable(Protocol):
    visible_at: float
    receives: int


M = TypeVar("M", bound=_Receivable)


def received(
    visible: Iterable[M],
    most: int,
    hidden_until: float,
    max_receives: int | None,
    to_dead_letters: Callable[[M], None],
) -> list[M]:
    """What an SQS receive hands over of the visible messages, in the order given: at most
    `most`, each hidden until `hidden_until`; one already received `max_receives` times goes
    to the DLQ instead (the redrive policy acts on the receive that finds it so)."""
    taken: list[M] = []
    for message in visible:
        if len(taken) == most:
            break
        if max_receives is not None and message.receives >= max_receives:
            to_dead_letters(message)
            continue
        message.receives += 1
        message.visible_at = hidden_until
        taken.append(message)
    return taken


@dataclass(frozen=True)
class Reply:
    """How a fake receiver answers one POST: a status after `seconds`, or a connection
    error (`error`, at once)."""

    status: int = 200
    seconds: float = 0.05
    error: str | None = None


# A receiver that never answers: every send to it times out.
NO_ANSWER = Reply(seconds=math.inf)


@dataclass(frozen=True)
class SentWebhook:
    url: str
    body: bytes
    headers: dict[str, str]
    slow_lane: bool


class FakeWebhookSender:
    """WebhookSender whose receivers answer as scripted per URL (`answer`: each POST the next
    Reply, then the last one again; 200 at once unscripted), with HttpWebhookSender's
    budgets: an answer slower than the lane's time (the fast lane's, or in the slow lane the
    whole time-out) is no answer (timed out); in the fast lane, one slower than the patience
    asks `keep_waiting` once, and is cut there if told not to. `refuse` makes a URL one
    paygate may not call (check raises; a send is refused unsent). Records every POST made
    (`sent`); with `clock`, a send advances it by the time it took. `meanwhile`: what
    happens elsewhere while the next POST waits for its answer (each run once, then gone)."""

    def __init__(
        self,
        *,
        timeout_seconds: float = DELIVERY_TIMEOUT_SECONDS,
        fast_lane_seconds: float = FAST_LANE_SECONDS,
        patience_seconds: float = FAST_LANE_PATIENCE_SECONDS,
        clock: FakeClock | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        self._fast_lane = min(fast_lane_seconds, timeout_seconds)
        self._patience = patience_seconds
        self._clock = clock
        self._replies: dict[str, list[Reply]] = {}
        self._refused: dict[str, str] = {}
        self.sent: list[SentWebhook] = []
        self.meanwhile: list[Callable[[], object]] = []

    def answer(self, url: str, *replies: Reply) -> None:
        self._replies[url] = list(replies)

    def refuse(self, url: str, reason: str) -> None:
        self._refused[url] = reason

    def sent_to(self, url: str) -> list[SentWebhook]:
        return [sent for sent in self.sent if sent.url == url]

    def check(self, url: str) -> None:
        if url in self._refused:
            raise InvalidWebhookUrlError(self._refused[url])

    def _next_reply(self, url: str) -> Reply:
        replies = self._replies.get(url) or [Reply(seconds=0.0)]
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def send(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        slow_lane: bool = False,
        keep_waiting: Callable[[], bool] | None = None,
    ) -> SendResult:
        if url in self._refused:
            return SendResult(0, error=f"refused: {self._refused[url]}")
        self.sent.append(SentWebhook(url, body, dict(headers), slow_lane))
        reply = self._next_reply(url)
        while self.meanwhile:
            self.meanwhile.pop(0)()
        if reply.error is not None:
            return self._ended(0.0, 0.0, SendResult(0, error=reply.error))
        budget = self._timeout if slow_lane else self._fast_lane
        waited = 0.0
        # Asked only when the patience runs out before the lane's time and the answer.
        if (
            keep_waiting is not None
            and not slow_lane
            and self._patience < min(budget, reply.seconds)
        ):
            waited = self._patience
            self._advance(waited)
            if not keep_waiting():
                why = f"no answer within {waited:.1f} s, its merchant's slow sends at their limit"
                return self._ended(waited, waited, SendResult(0, error=why, timed_out=True))
        if reply.seconds > budget:
            late = SendResult(0, error=f"no answer within {budget:g} s", timed_out=True)
            return self._ended(budget, waited, late)
        answered = SendResult(0, status=reply.status, fast_enough=reply.seconds <= self._fast_lane)
        return self._ended(reply.seconds, waited, answered)

    def _advance(self, seconds: float) -> None:
        if self._clock is not None:
            self._clock.advance(seconds)

    def _ended(self, seconds: float, waited: float, result: SendResult) -> SendResult:
        """`result`, `seconds` after the send began (`waited` of them passed already)."""
        self._advance(seconds - waited)
        return replace(result, milliseconds=round(seconds * 1000))


class InMemoryCardKeyring:
    """CardKeyring that remembers which epochs have a key pair, and until when."""

    def __init__(self) -> None:
        self.expiry: dict[str, int] = {}
        self.unavailable = False

    def has(self, epoch: str) -> bool:
        if self.unavailable:
            raise ConnectionError("the card keys table is unavailable")
        return epoch in self.expiry

    def create(self, epoch: str, *, expires_at: int) -> bool:
        if epoch in self.expiry:
            return False
        self.expiry[epoch] = expires_at
        return True
