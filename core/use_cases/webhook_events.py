"""Webhook events from the payments table's stream (the transactional outbox): a status
write that happened makes exactly one event, whatever crashes or duplicates the stream
delivers; a write that did not happen (a lost race) makes none. Each event is stored once
and handed to every endpoint of its merchant that wants its type."""

from __future__ import annotations

import json
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

    def publish(self, event: WebhookEvent) -> None:
        """Idempotent on the event id: a repeat of a record already handed on does nothing;
        a repeat of one that crashed before being handed on is handed on (again)."""
        if not self.events.add(event, event_body(event)):
            stored = self.events.get(event.id)
            if stored is not None and stored.queued:
                self.metrics.count("WebhookEventRepeats")
                return
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
            for endpoint in self._endpoint_lists.of(event.merchant_id)
            if endpoint.wants(event.type)
        ]
        if jobs:
            # Marked only when something was queued: a merchant without endpoints costs
            # the event's write and one query.
            self.deliveries.publish(jobs, now)
            self.events.mark_queued(event.id)
        self.metrics.count("WebhookEvents")
