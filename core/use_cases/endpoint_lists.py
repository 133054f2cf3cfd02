"""A merchant's webhook endpoints as an instance sees them: read once per `fresh_seconds`
instead of on every event or delivery. Every event of a merchant read its endpoints (a
consistent Query on one partition key), and every delivery its endpoint, so one busy
merchant's key was hot. The event publisher keeps them a minute (an endpoint registered
receives the events made a minute after it at the latest); the delivery worker a few
seconds (a deletion, a rotated secret or a slow mark reaches it within them)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from core.domain.clock import Clock
from core.domain.webhooks import EndpointStore, WebhookEndpoint

# Merchants whose endpoints an instance keeps: a few MB at most.
KEPT_MERCHANTS = 10_000


@dataclass
class RecentEndpointLists:
    store: EndpointStore
    clock: Clock
    fresh_seconds: float
    kept_merchants: int = KEPT_MERCHANTS
    _lists: OrderedDict[str, tuple[float, list[WebhookEndpoint]]] = field(
        default_factory=OrderedDict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, merchant_id: str) -> list[WebhookEndpoint]:
        now = self.clock.now()
        with self._lock:
            held = self._lists.get(merchant_id)
            if held is not None and held[0] > now:
                return held[1]
        endpoints = self.store.list(merchant_id)
        if self.fresh_seconds > 0:
            with self._lock:
                self._lists[merchant_id] = (now + self.fresh_seconds, endpoints)
                self._lists.move_to_end(merchant_id)
                while len(self._lists) > self.kept_merchants:
                    self._lists.popitem(last=False)
        return endpoints

    def endpoint(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return next((e for e in self.of(merchant_id) if e.endpoint_id == endpoint_id), None)

    def forget(self, merchant_id: str) -> None:
        """Read the merchant's endpoints again next time (this instance changed one)."""
        with self._lock:
            self._lists.pop(merchant_id, None)
