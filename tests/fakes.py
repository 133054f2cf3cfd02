"""In-memory fakes of the ports (core/domain/ports.py), for the fast unit tier: the use cases
run on them without moto. Each fake keeps the semantics its adapter promises, and the
contract suites (tests/contract/) hold fake and adapter to the same tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from core.domain.cards import CardSecret
from core.domain.errors import (
    BankUnavailableError,
    ConcurrentUpdateError,
    InvalidCursorError,
    PaymentExistsError,
    QueueUnavailableError,
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
        if payment.status.is_in_flight:
            self._reconcile_at[payment.payment_id] = (
                reconcile_at
                if reconcile_at is not None
                else self._policy.look_at(payment.updated_at, payment.created_at)
            )
        else:
            self._reconcile_at.pop(payment.payment_id, None)

    def _at_version(self, payment: Payment, *, in_flight: bool) -> Payment:
        stored = self._payments.get(payment.payment_id)
        if stored is None or stored.version != payment.version:
            raise ConcurrentUpdateError(payment.payment_id)
        if in_flight and not stored.status.is_in_flight:
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
        if (
            stored is None
            or stored.merchant_id != merchant_id
            or stored.status is not PaymentStatus.CREATED
            or stored.version != CREATED_VERSION
            or stored.expires_at is None
            or stored.expires_at <= now
        ):
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
        if stored is None or not stored.status.is_in_flight:
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
            reconcile_at=self._policy.look_at(now, payment.created_at),
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


class InMemoryCardVault:
    """CardVault with a local key: the ciphertext is bound to its payment and merchant, and
    holds no card digit in the clear."""

    def __init__(self) -> None:
        self._key = hashlib.sha256(b"in-memory card vault").digest()
        self.decrypted = 0

    def _stream(self, length: int, context: bytes) -> bytes:
        blocks = b""
        counter = 0
        while len(blocks) < length:
            blocks += hmac.new(self._key, context + bytes([counter]), hashlib.sha256).digest()
            counter += 1
        return blocks[:length]

    def encrypt(self, card: CardSecret, *, payment_id: str, merchant_id: str) -> bytes:
        context = f"{payment_id}|{merchant_id}".encode()
        plain = card.to_bytes()
        masked = bytes(a ^ b for a, b in zip(plain, self._stream(len(plain), context), strict=True))
        tag = hmac.new(self._key, context + masked, hashlib.sha256).digest()
        return tag + masked

    def decrypt(self, ciphertext: bytes, *, payment_id: str, merchant_id: str) -> CardSecret:
        context = f"{payment_id}|{merchant_id}".encode()
        tag, masked = ciphertext[:32], ciphertext[32:]
        expected = hmac.new(self._key, context + masked, hashlib.sha256).digest()
        if not hmac.compare_digest(tag, expected):
            raise InvalidCiphertextError("the ciphertext is not for this payment")
        self.decrypted += 1
        plain = bytes(
            a ^ b for a, b in zip(masked, self._stream(len(masked), context), strict=True)
        )
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
