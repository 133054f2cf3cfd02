"""The webhook use cases wired on the in-memory fakes (tests/fakes.py) and a virtual clock:
no moto, no HTTP, no waiting. A scheduler runs the deliveries queue as Lambda's event
source would: every job visible now on either lane, the clock stepped to the next one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.bootstrap import AwsClients, Services
from core.domain.cards import CardSecret
from core.domain.payment import Payment
from core.domain.payment_view import PaymentView
from core.domain.webhook_events import EVENT_TYPES, WebhookEvent
from core.domain.webhooks import Delivery, StoredEvent
from core.use_cases.webhook_delivery import WebhookDelivery
from core.use_cases.webhook_endpoints import IssuedSecret
from core.use_cases.webhook_events import EventPublisher
from tests.fakes import (
    FAST_LANE,
    SLOW_LANE,
    FakeWebhookSender,
    InMemoryDeliveryQueue,
    InMemoryEndpointStore,
    InMemoryEventStore,
    InMemorySecretVault,
    Reply,
)
from tests.support import SENTINEL_CVV, SENTINEL_PAN
from tests.unit.use_case_world import MERCHANT, World

SENTINEL_CARD = CardSecret(pan=SENTINEL_PAN, cvv=SENTINEL_CVV)


@dataclass
class WebhookWorld:
    payments: World = field(default_factory=World)
    endpoint_store: InMemoryEndpointStore = field(default_factory=InMemoryEndpointStore)
    event_store: InMemoryEventStore = field(default_factory=InMemoryEventStore)
    secrets: InMemorySecretVault = field(default_factory=InMemorySecretVault)
    # Outcomes of every job run (what `WebhookDelivery.deliver` answered).
    outcomes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = self.payments.clock
        self.metrics = self.payments.metrics
        self.sender = FakeWebhookSender(clock=self.clock)
        self.queue = InMemoryDeliveryQueue(self.clock.now)
        overrides: Mapping[str, Any] = self.payments.services.overrides | {
            "events": self.event_store,
            "webhook_endpoints": self.endpoint_store,
            "webhook_secrets": self.secrets,
            "deliveries": self.queue,
            "webhook_sender": self.sender,
        }
        settings = self.payments.settings
        self.services = Services(settings, AwsClients(settings), self.clock, overrides=overrides)
        self.settings = settings
        self.endpoints = self.services.webhook_endpoint_service
        self.publisher = self.services.event_publisher
        self.delivery = self.services.webhook_delivery

    def another_instance(self) -> WebhookDelivery:
        """The delivery use case of another Lambda instance: the same tables and queues,
        nothing this instance remembers."""
        settings = self.payments.settings
        others = Services(settings, AwsClients(settings), self.clock, self.services.overrides)
        return others.webhook_delivery

    def another_publisher(self) -> EventPublisher:
        """The event publisher of another Lambda instance: its own lists of endpoints."""
        settings = self.payments.settings
        others = Services(settings, AwsClients(settings), self.clock, self.services.overrides)
        return others.event_publisher

    def register(self, url: str, *types: str, replies: tuple[Reply, ...] = ()) -> IssuedSecret:
        """An endpoint of MERCHANT at `url`, whose receiver answers `replies` (200 at once
        if none)."""
        if replies:
            self.sender.answer(url, *replies)
        return self.endpoints.register(MERCHANT, MERCHANT, url, types)

    def payment(self) -> Payment:
        """A payment of the sentinel card, submitted and worked on: Accepted."""
        created = self.payments.service.create_payment(MERCHANT, MERCHANT)
        command = self.payments.command(created.payment_id, card=SENTINEL_CARD)
        self.payments.service.submit_payment(MERCHANT, command, "req-1")
        self.payments.work()
        accepted = self.payments.store.get(created.payment_id)
        assert accepted is not None
        return accepted

    def publish(self, payment: Payment) -> WebhookEvent:
        """The event of the payment's status, made and published as the stream's
        (workers/event_publisher.py)."""
        event = self.event_of(payment)
        self.publisher.publish_all([event])
        return event

    @staticmethod
    def event_of(payment: Payment) -> WebhookEvent:
        """The event of the payment's status, as the stream's record of it makes."""
        return WebhookEvent(
            type=EVENT_TYPES[payment.status],
            created=payment.updated_at,
            payment_id=payment.payment_id,
            merchant_id=payment.merchant_id,
            version=payment.version,
            data=PaymentView.of(payment).to_json(),
        )

    def deliver_due(self) -> None:
        """Every job visible now on either lane, each deleted once handled (a job whose run
        raised stays, to be handed over again)."""
        while batch := self.queue.receive(FAST_LANE) + self.queue.receive(SLOW_LANE):
            for message in batch:
                self.outcomes.append(self.delivery.deliver(message.job))
                self.queue.delete(message.handle)

    def run_for(self, seconds: float) -> None:
        """Deliver as the clock moves on `seconds`, stopping at each time a job becomes
        visible."""
        end = self.clock.now() + seconds
        while True:
            self.deliver_due()
            due = self.queue.next_visible_at()
            if due is None or due > end:
                break
            self.clock.advance(max(0.0, due - self.clock.now()))
        self.clock.advance(max(0.0, end - self.clock.now()))

    def events_of(self, payment: Payment) -> list[StoredEvent]:
        return self.event_store.events_of(payment.payment_id)

    def delivery_of(self, payment: Payment, endpoint_id: str) -> Delivery:
        """The delivery of the payment's latest event to the endpoint."""
        latest = self.events_of(payment)[-1]
        return next(d for d in latest.deliveries if d.endpoint_id == endpoint_id)
