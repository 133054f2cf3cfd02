"""The webhook half of the simulated system: the payments table's stream (every write the
in-memory store makes, in order, as DynamoDB Streams hands them over), the event publisher
reading it, both delivery lanes, merchants' endpoints that answer late, fail for a while or
rotate their secret, and the checks: exactly one event per status change, and each event
delivered, signed, to every endpoint that is still there."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.domain.errors import EndpointBusyError, UnknownEndpointError
from core.domain.payment import Payment
from core.domain.webhook_events import ALL_EVENT_TYPES, event_id, event_of_write
from core.domain.webhook_signature import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    WebhookSignatureError,
    verify_signature,
)
from core.use_cases.webhook_delivery import WebhookDelivery, settles
from core.use_cases.webhook_endpoints import WebhookEndpoints
from core.use_cases.webhook_events import EventPublisher
from tests.fakes import (
    FAST_LANE,
    NO_ANSWER,
    SLOW_LANE,
    FakeWebhookSender,
    InMemoryDeliveryQueue,
    InMemoryEndpointStore,
    InMemoryEventStore,
    InMemoryPaymentStore,
    InMemorySecretVault,
    Reply,
)
from tests.faults import SimulatedCrash
from tests.simulation.port_faults import FAULTS

# How each endpoint answers, picked per endpoint: at once; failing its first POSTs; too late
# for the fast lane once; never within the fast lane's time at first, then at once.
_RECEIVERS: dict[str, tuple[Reply, ...]] = {
    "healthy": (Reply(seconds=0.05),),
    "flaky": (Reply(status=500), Reply(status=503), Reply(seconds=0.05)),
    "late once": (Reply(seconds=5.0), Reply(seconds=0.05)),
    "down a while": (Reply(error="connection refused"), NO_ANSWER, Reply(seconds=0.05)),
}
MAX_STREAM_BATCH = 5
ROTATION_RETRIES = 20


@dataclass(frozen=True)
class StreamRecord:
    sequence: int
    old: Payment | None
    new: Payment


class PaymentsStream:
    """Every write of the store, as the table's stream keeps it: in order, each once."""

    def __init__(self, store: InMemoryPaymentStore) -> None:
        self.records: list[StreamRecord] = []
        put = store._put

        def tapped(payment: Payment, reconcile_at: int | None = None) -> None:
            before = store._payments.get(payment.payment_id)
            put(payment, reconcile_at)
            self.records.append(StreamRecord(len(self.records), before, payment))

        store._put = tapped  # type: ignore[method-assign]


@dataclass
class Endpoint:
    merchant_id: str
    endpoint_id: str
    url: str
    behaviour: str
    # Every secret the merchant was ever given for it.
    secrets: list[str] = field(default_factory=list)


@dataclass
class Webhooks:
    """Built by the World with its faulty ports; `publish_first_then_commit` is False only
    in the mutant that acknowledges a stream record before publishing its event."""

    store: InMemoryPaymentStore
    rng: random.Random
    faulty: Callable[[str, Any], Any]
    clock: Any
    metrics: Any
    payments: Any
    publish_first_then_commit: bool = True
    endpoints: list[Endpoint] = field(default_factory=list)
    checkpoint: int = 0

    def __post_init__(self) -> None:
        self.stream = PaymentsStream(self.store)
        self.event_store = InMemoryEventStore()
        self.endpoint_store = InMemoryEndpointStore()
        self.queue = InMemoryDeliveryQueue(self.clock.now, max_receives=5)
        self.sender = FakeWebhookSender(clock=self.clock)
        vault = InMemorySecretVault()
        events = self.faulty("events", self.event_store)
        endpoints = self.faulty("endpoints", self.endpoint_store)
        deliveries = self.faulty("deliveries", self.queue)
        self.publisher = EventPublisher(
            events=events,
            endpoints=endpoints,
            deliveries=deliveries,
            clock=self.clock,
            metrics=self.metrics,
        )
        self.delivery = WebhookDelivery(
            events=events,
            endpoints=endpoints,
            vault=self.faulty("secrets", vault),
            sender=self.faulty("http", self.sender),
            deliveries=deliveries,
            clock=self.clock,
            metrics=self.metrics,
        )
        # Registered before any payment, without faults (a merchant's set-up).
        self.registry = WebhookEndpoints(
            endpoints=self.endpoint_store,
            events=self.event_store,
            payments=self.payments,
            vault=vault,
            clock=self.clock,
            check_url=self.sender.check,
        )
        self.rotations = WebhookEndpoints(
            endpoints=endpoints,
            events=events,
            payments=self.payments,
            vault=self.faulty("secrets", vault),
            clock=self.clock,
            check_url=self.sender.check,
        )

    def register(self, merchant_id: str) -> None:
        behaviour = self.rng.choice(sorted(_RECEIVERS))
        url = f"https://{merchant_id}.example/hooks/{len(self.endpoints)}"
        self.sender.answer(url, *_RECEIVERS[behaviour])
        issued = self.registry.register(merchant_id, merchant_id, url, ALL_EVENT_TYPES)
        endpoint = Endpoint(merchant_id, issued.endpoint.endpoint_id, url, behaviour)
        endpoint.secrets.append(issued.secret)
        self.endpoints.append(endpoint)

    # The actors
    def publisher_reads(self) -> None:
        """One invocation on the stream's shard: a batch from the checkpoint, its events
        published together; if that fails, the whole batch is handed over again."""
        batch = self.stream.records[self.checkpoint : self.checkpoint + MAX_STREAM_BATCH]
        if not batch:
            return
        events = [event_of_write(record.old, record.new) for record in batch]
        if not self.publish_first_then_commit:
            self.checkpoint = batch[-1].sequence + 1
        self.publisher.publish_all([event for event in events if event is not None])
        self.checkpoint = batch[-1].sequence + 1

    def deliverer_polls(self, lane: str, duplicate_rate: float) -> None:
        """One delivery instance's batch of a lane; now and then SQS hands a message over to
        another instance too (at least once)."""
        for message in self.queue.receive(lane, self.rng.randint(1, 10)):
            # (Unless another instance's copy was handled and deleted meanwhile.)
            still_queued = message.handle in self.queue._messages
            if still_queued and self.rng.random() < duplicate_rate:
                self.queue.redeliver(message.handle)
            if settles(self.delivery.deliver(message.job)):
                self.queue.delete(message.handle)

    def live(self) -> list[Endpoint]:
        """The endpoints still registered, as the endpoints table says (a removal that
        failed on a fault left its endpoint there; one whose answer was lost did not)."""
        return [e for e in self.endpoints if self.endpoint_store.get(e.merchant_id, e.endpoint_id)]

    def merchant_rotates(self) -> None:
        live = self.live()
        if not live:
            return
        endpoint = self.rng.choice(live)
        # With an Idempotency-Key, tried again after a 5xx until answered, as the docs ask:
        # a merchant that gave up on a rotation whose answer was lost would not know the
        # secret that signs alone once the old one's 24 hours are over.
        claim = f"rotation-{self.rng.getrandbits(32)}"
        for _ in range(ROTATION_RETRIES):
            try:
                issued = self.rotations.rotate(
                    endpoint.merchant_id, endpoint.merchant_id, endpoint.endpoint_id, claim_id=claim
                )
            except (UnknownEndpointError, EndpointBusyError):
                return  # removed meanwhile (404), or rotated by another request (409)
            except (*FAULTS, SimulatedCrash):
                continue  # the function failed or died: a 5xx to the merchant, who retries
            endpoint.secrets.append(issued.secret)
            return

    def merchant_removes(self) -> None:
        live = self.live()
        if len(live) <= 1:
            return
        endpoint = self.rng.choice(live)
        try:
            self.rotations.remove(endpoint.merchant_id, endpoint.merchant_id, endpoint.endpoint_id)
        except UnknownEndpointError:
            return  # removed meanwhile by another request

    def operator_replays(self) -> None:
        self.queue.replay_dead_letters(self.clock.now(), dry_run=False, limit=1000)

    # What quiet means here
    def quiet(self) -> bool:
        return (
            self.checkpoint == len(self.stream.records)
            and not self.queue.waiting()
            and not self.queue.dead_letters
        )

    def next_due(self) -> float:
        due = self.queue.next_visible_at()
        return float("inf") if due is None else due

    # The checks
    def at_quiescence(self) -> list[str]:
        return self._one_event_per_status_change() + self._delivered_signed()

    def _one_event_per_status_change(self) -> list[str]:
        expected = {
            event_id(record.new.payment_id, record.new.version)
            for record in self.stream.records
            if event_of_write(record.old, record.new) is not None
        }
        stored = set(self.event_store._events)
        broken = [f"no event for the status change {missing}" for missing in expected - stored]
        broken += [f"an event no status change made: {extra}" for extra in stored - expected]
        return sorted(broken)

    def _delivered_signed(self) -> list[str]:
        """Each event of a merchant delivered (a 2xx recorded) to each of its endpoints still
        there, and every POST of it signed with a secret the merchant was given."""
        broken = []
        for endpoint in self.live():
            sent = self.sender.sent_to(endpoint.url)
            for post in sent:
                if not _verifies(post.body, post.headers.get(SIGNATURE_HEADER), endpoint.secrets):
                    broken.append(f"a POST of {post.headers[EVENT_ID_HEADER]} is not signed")
            for event in self.event_store._events.values():
                if event.merchant_id != endpoint.merchant_id:
                    continue
                item = self.event_store._deliveries.get((event.event_id, endpoint.endpoint_id))
                if item is None or item.state != "delivered":
                    state = item.state if item else "never tried"
                    broken.append(
                        f"{event.event_id} not delivered to {endpoint.endpoint_id} "
                        f"({endpoint.behaviour}): {state}"
                    )
        return broken

    def card_data_sent(self, pan: str) -> list[str]:
        leaks = [post.url for post in self.sender.sent if pan.encode() in post.body]
        return [f"a webhook to {url} holds the PAN" for url in leaks]


def _verifies(body: bytes, header: str | None, secrets: list[str]) -> bool:
    try:
        verify_signature(body, header, secrets, tolerance_seconds=10**9)
    except WebhookSignatureError:
        return False
    return True


LANES = (FAST_LANE, SLOW_LANE)
