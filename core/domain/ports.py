"""The ports: what the use cases need from the outside world, as Protocols. The adapters
(core/adapters/) implement them on AWS; the tests' fakes (tests/fakes.py) in memory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.domain.cards import CardSecret
from core.domain.jobs import PaymentJob
from core.domain.payment import BankOutcome, Payment, PaymentDetails, PaymentStatus
from core.domain.refunds import RefundOutcome


@dataclass(frozen=True)
class AuthorizationRequest:
    payment_id: str
    merchant_id: str
    amount: int
    currency: str
    expiry_year: int
    expiry_month: int
    card: CardSecret


class Bank(Protocol):
    """What the worker needs from a card acquirer. Every method raises
    BankUnavailableError (or BankTimeoutError) for a transient failure; the idempotency
    key is the payment id."""

    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        """Authorize once per idempotency key; a repeated key answers the original result."""
        ...

    def inquire(self, idempotency_key: str) -> BankOutcome | None:
        """Where an authorization the bank answered Pending stands now (no card needed):
        Pending still, or its final outcome. None if the bank has no answer for the key."""
        ...

    def void_unless_decided(self, idempotency_key: str) -> BankOutcome | None:
        """End the authorization for good: its final outcome if the bank decided one,
        otherwise None, and the bank will never authorize this key afterwards."""
        ...

    def capture(self, payment_id: str, amount: int, *, idempotency_key: str) -> None:
        """Capture `amount` of the payment's authorization (the rest is released); once per
        idempotency key, a repeat moves no money again."""
        ...

    def void(self, payment_id: str, *, idempotency_key: str) -> None:
        """Release the payment's authorization; once per idempotency key."""
        ...

    def refund(self, payment_id: str, amount: int, *, idempotency_key: str) -> RefundOutcome:
        """Give back `amount` of what the payment captured; once per idempotency key (the
        refund id), a repeat answering the original result."""
        ...


@dataclass(frozen=True)
class PaymentPage:
    payments: list[Payment]
    # Where the listing goes on (opaque to all but the store), or None at its end.
    next_position: str | None


@dataclass(frozen=True)
class StalledPayment:
    payment_id: str
    reconcile_at: int


class PaymentStore(Protocol):
    """The payments, each written only conditionally (optimistic locking): on the version
    read, or on the status expected."""

    def add(self, payment: Payment) -> None:
        """Store a new payment; PaymentExistsError if its id is taken."""
        ...

    def renew_expired(self, expired: Payment, renewed: Payment) -> None:
        """Replace an expired Created payment (never paid) by `renewed`, same id;
        ConcurrentUpdateError if it is not (or no longer) that."""
        ...

    def get(self, payment_id: str) -> Payment | None:
        """Consistent read; UnreadablePaymentError for an item that is no payment."""
        ...

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
        """Created -> Processing, if it is this merchant's unexpired Created payment;
        TransitionRejectedError (with the payment as it is) otherwise. A retry of our own
        write whose answer was lost returns the payment it made."""
        ...

    def save_transition(self, before: Payment, after: Payment) -> None:
        """Write `after` if the payment is still at `before.version`; ConcurrentUpdateError
        if someone else changed it first (our own write whose answer was lost is ours)."""
        ...

    def note_failure(self, payment: Payment, reason: str, now: int) -> None: ...

    def note_dead_lettered(self, payment_id: str, receives: int) -> None: ...

    def note_enqueue_failed(self, payment: Payment) -> None: ...

    def note_enqueued(self, payment: Payment) -> None: ...

    def touch_progress(self, payment: Payment, now: int) -> None:
        """The reconciler looked at it (re-queued or reported it) at `now`: not due again
        for a while (ConcurrentUpdateError if it moved on)."""
        ...

    def note_waiting(self, payment: Payment, look_at: int) -> None:
        """Its job is on its way: the reconciler looks at it again at `look_at`, counting
        nothing (ConcurrentUpdateError if it moved on)."""
        ...

    def erase_card(self, payment: Payment) -> None: ...

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
        """One merchant's payments, newest first, expired Created ones left out; bounded
        work per call. `after` is a page's next_position (InvalidCursorError if it is not
        one of this merchant's listing)."""
        ...

    def stalled_pages(self, now: int) -> Iterator[list[StalledPayment]]:
        """Every in-flight payment the reconciler is due to look at by `now`."""
        ...

    def in_flight_pages(self) -> Iterator[list[StalledPayment]]: ...

    def count_by_status(self, max_items: int) -> tuple[dict[str, int], bool]:
        """Payments per status (ops), and whether it stopped at max_items."""
        ...


class CardVault(Protocol):
    """Encrypts card data bound to its payment and merchant."""

    def encrypt(self, card: CardSecret, *, payment_id: str, merchant_id: str) -> bytes: ...

    def decrypt(self, ciphertext: bytes, *, payment_id: str, merchant_id: str) -> CardSecret: ...


class CardKeyring(Protocol):
    """The card key pairs, one per epoch (core/domain/card_keys.py)."""

    def has(self, epoch: str) -> bool:
        """Whether the key pair of `epoch` exists."""
        ...

    def create(self, epoch: str, *, expires_at: int) -> bool:
        """Make the key pair of `epoch`, kept until `expires_at`; False (and nothing
        changed) if it exists already."""
        ...


@dataclass(frozen=True)
class QueueDepth:
    """A queue's approximate message counts (SQS GetQueueAttributes)."""

    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


class JobPublisher(Protocol):
    def publish(self, job: PaymentJob, *, delay_seconds: int = 0) -> None:
        """Queue a job (retrying); QueueUnavailableError if it cannot."""
        ...

    def publish_many(self, jobs: Sequence[PaymentJob]) -> list[PaymentJob]:
        """Queue many jobs in as few requests as the queue allows (retrying the ones that
        failed); the jobs that could not be queued."""
        ...

    def depth(self) -> QueueDepth:
        """The queue's approximate message counts (how big its backlog is)."""
        ...


class Mac(Protocol):
    """A keyed MAC whose key never leaves where it is kept."""

    def sign(self, message: bytes) -> str: ...

    def verify(self, message: bytes, mac: str) -> bool: ...


class CursorSealer(Protocol):
    """Turns a listing position into a cursor only this merchant's listing accepts back."""

    def seal(self, merchant_id: str, position: str) -> str: ...

    def open(self, cursor: str, merchant_id: str) -> str:
        """The position; InvalidCursorError if the cursor is not one issued to this
        merchant, exactly as issued."""
        ...


class Metrics(Protocol):
    def count(self, name: str, value: float = 1) -> None: ...

    def milliseconds(self, name: str, value: float) -> None: ...
