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

# Merchants whose endpoints an instance keeps at most; those past their time go as others
# come, so a cache of a few seconds holds only the merchants of its last few seconds.
KEPT_MERCHANTS = 10_000


def _find(endpoints: list[WebhookEndpoint], endpoint_id: str) -> WebhookEndpoint | None:
    return next((e for e in endpoints if e.endpoint_id == endpoint_id), None)


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
    # Merchants a thread is reading anew: the others go on with the last answer meanwhile
    # rather than read too (or wait: a thread never waits for another's read).
    _reading: set[str] = field(default_factory=set)
    # How many times a merchant was forgotten: a read begun before the last time is not
    # kept (what it read may be from before the change that made us forget).
    _forgotten: int = 0

    def __len__(self) -> int:
        """Merchants whose endpoints are held."""
        with self._lock:
            return len(self._lists)

    def of(self, merchant_id: str) -> list[WebhookEndpoint]:
        now = self.clock.now()
        with self._lock:
            held = self._lists.get(merchant_id)
            if held is not None and (held[0] > now or merchant_id in self._reading):
                return held[1]
            self._reading.add(merchant_id)
            forgotten = self._forgotten
        try:
            endpoints = self.store.list(merchant_id)
        finally:
            with self._lock:
                self._reading.discard(merchant_id)
        if self.fresh_seconds > 0:
            self._keep(merchant_id, endpoints, forgotten)
        return endpoints

    def _keep(self, merchant_id: str, endpoints: list[WebhookEndpoint], forgotten: int) -> None:
        now = self.clock.now()
        with self._lock:
            if self._forgotten == forgotten:
                self._lists[merchant_id] = (now + self.fresh_seconds, endpoints)
                self._lists.move_to_end(merchant_id)
            # Oldest first: the front is past its time before any other.
            while self._lists and (
                len(self._lists) > self.kept_merchants or next(iter(self._lists.values()))[0] <= now
            ):
                self._lists.popitem(last=False)

    def endpoint(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """The endpoint, or None if a read begun after this call does not find it either: a
        list kept from before its registration is read again, not taken for its removal."""
        found = _find(self.of(merchant_id), endpoint_id)
        if found is None and self.fresh_seconds > 0:
            self.forget(merchant_id)
            found = _find(self.of(merchant_id), endpoint_id)
        return found

    def forget(self, merchant_id: str) -> None:
        """Read the merchant's endpoints again next time (this instance changed one, or
        missed one)."""
        with self._lock:
            self._forgotten += 1
            self._lists.pop(merchant_id, None)
