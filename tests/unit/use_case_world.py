"""The use cases wired on the in-memory fakes (tests/fakes.py): no moto, no boto3 call."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from core.adapters.list_cursors import SignedCursors
from core.bootstrap import AwsClients, Services
from core.domain.cards import CardSecret
from core.domain.payment import Payment
from core.domain.ports import JobPublisher
from core.domain.reconcile_policy import ReconcilePolicy
from core.domain.submission import RequestDigests, SubmitCard
from core.settings import Settings
from core.use_cases.payment_processor import ProcessedJob
from core.use_cases.reconciler import ReconcileReport
from tests.fakes import (
    CountingMetrics,
    FakeBank,
    InMemoryCardVault,
    InMemoryJobQueue,
    InMemoryMac,
    InMemoryPaymentStore,
)
from tests.support import FakeClock

MERCHANT = "m-1"
OTHER_MERCHANT = "m-2"
CARD = CardSecret(pan="4242424242424242", cvv="123")
SETTINGS = Settings(
    payments_table="payments",
    merchants_table="merchants",
    bank_ledger_table="ledger",
    bank_control_table="control",
    idempotency_table="idempotency",
    jobs_queue_url="https://sqs.invalid/jobs",
    card_key_id="card",
    card_digest_key_id="digest",
    card_keys_table="card-keys",
    idempotency_digest_key_id="idempotency-digest",
    cursor_key_id="cursor",
    events_table="events",
    webhook_endpoints_table="endpoints",
    deliveries_queue_url="https://sqs.invalid/deliveries",
    deliveries_dlq_url="https://sqs.invalid/deliveries-dlq",
    slow_deliveries_queue_url="https://sqs.invalid/deliveries-slow",
    webhook_secret_key_id="webhook-secrets",
    bank_retry_initial_seconds=0,
    bank_retry_max_seconds=0,
    # The fakes share counters (the bank's outage): one payment at a time keeps their order.
    reconcile_concurrency=1,
)


@dataclass
class World:
    settings: Settings = SETTINGS
    clock: FakeClock = field(default_factory=FakeClock)
    bank: FakeBank = field(default_factory=FakeBank)
    jobs: InMemoryJobQueue = field(default_factory=InMemoryJobQueue)
    vault: InMemoryCardVault = field(default_factory=InMemoryCardVault)
    metrics: CountingMetrics = field(default_factory=CountingMetrics)
    store_class: type[InMemoryPaymentStore] = InMemoryPaymentStore
    # A queue of another kind (a VirtualSqsQueue) in place of `jobs`.
    queue: JobPublisher | None = None

    def __post_init__(self) -> None:
        self.store = self.store_class(ReconcilePolicy.of(self.settings))
        self.digests = RequestDigests(InMemoryMac())
        # The composition root itself, every port handed in as a fake: the use cases are
        # wired as in production, and no AWS client is ever built (`aws_clients_built`).
        self.services = Services(
            self.settings,
            AwsClients(self.settings),
            self.clock,
            overrides={
                "payments": self.store,
                "vault": self.vault,
                "jobs": self.jobs if self.queue is None else self.queue,
                "bank": self.bank,
                "metrics": self.metrics,
                "request_digests": self.digests,
                "cursors": SignedCursors(InMemoryMac(b"cursor key")),
            },
        )
        self.service = self.services.payment_service
        self.processor = self.services.processor
        self.reconciler = self.services.reconciler
        self.listing = self.services.payment_listing

    def aws_clients_built(self) -> list[str]:
        return self.services.clients.built()

    def command(self, payment_id: str, amount: int = 1250, **changes: object) -> SubmitCard:
        values: dict[str, object] = {
            "payment_id": payment_id,
            "merchant_id": MERCHANT,
            "card": CARD,
            "amount": amount,
            "currency": "EUR",
            "expiry_year": 2035,
            "expiry_month": 12,
            "card_name": "Ada Lovelace",
            "billing_address": "12 Analytical Row",
        } | changes
        return self.digests.digested(SubmitCard(**values))  # type: ignore[arg-type]

    def submitted(self, amount: int = 1250) -> Payment:
        """A payment created and submitted, its job taken off the queue."""
        created = self.service.create_payment(MERCHANT, MERCHANT)
        payment = self.service.submit_payment(
            MERCHANT, self.command(created.payment_id, amount), "req-1"
        )
        self.jobs.take()
        return payment

    def work(self, deadline_seconds: float = 30.0) -> list[ProcessedJob]:
        """The worker on every job queued now (whatever their delay)."""
        deadline = time.monotonic() + deadline_seconds
        return [self.processor.process(job, deadline=deadline) for job, _ in self.jobs.take()]

    def reconcile(self, seconds_left: float = 60.0) -> ReconcileReport:
        return self.reconciler.run(seconds_left=lambda: seconds_left)
