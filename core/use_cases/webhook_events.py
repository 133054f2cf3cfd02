"""Webhook events from the payments table's stream (the transactional outbox): a status
write that happened makes exactly one event, whatever crashes or duplicates the stream
delivers; a write that did not happen (a lost race) makes none. Each event is stored (the
same item however often its record comes) and handed to every endpoint of its merchant
that wants its type.

A stream batch's events are stored together (a request per 25) and their delivery jobs
queued together (a request per 10), then the batch is done. A batch handed over again (a
crash, a failed request) stores and queues its events again: the event is the same item,
and a delivery job repeated is recognized by the delivery's own entry (webhook_delivery.py:
sent once, or "delivered already")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.domain.clock import Clock
from core.domain.ports import Metrics
from core.domain.webhook_events import WebhookEvent
from core.domain.webhooks import DeliveryJob, DeliveryQueue, EndpointStore, EventStore
from core.use_cases.endpoint_lists import RecentEndpointLists


def event_body(event: WebhookEvent) -> str:
    """The bytes every delivery of the event sends, fixed once."""
    return json.dumps(event.to_json(), separators=(",", ":"), sort_keys=True)


@dataclass
class EventPublisher:
    events: EventStore
    endpoints: EndpointStore
    deliveries: DeliveryQueue
    clock: Clock
    metrics: Metrics
    # How long an instance uses a merchant's endpoints as read (endpoint_lists.py); 0: read
    # them for every event.
    endpoint_list_seconds: float = 0
    _endpoint_lists: RecentEndpointLists = field(init=False)

    def __post_init__(self) -> None:
        self._endpoint_lists = RecentEndpointLists(
            self.endpoints, self.clock, self.endpoint_list_seconds
        )

    def publish_all(self, events: Sequence[WebhookEvent]) -> None:
        """Store the events, then queue a delivery job per endpoint that wants each; raises
        if either fails (the caller hands the whole batch over again)."""
        if not events:
            return
        self.events.put_all([(event, event_body(event)) for event in events])
        now = self.clock.now()
        # An endpoint marked slow gets its job in the slow lane straight away.
        jobs = [
            DeliveryJob(
                event.id,
                endpoint.endpoint_id,
                event.merchant_id,
                attempt=1,
                due_at=now,
                slow=endpoint.in_slow_lane(now),
            )
            for event in events
            for endpoint in self._endpoint_lists.of(event.merchant_id)
            if endpoint.wants(event.type)
        ]
        if jobs:
            self.deliveries.publish(jobs, now)
        self.metrics.count("WebhookEvents", len(events))
