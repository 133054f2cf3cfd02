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
# One merchant's endpoints are read by one thread at a time (the others wait for its
# answer); different merchants' at once: a fixed few locks, a merchant hashed to one.
READ_LOCKS = 64


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
    _reads: tuple[threading.Lock, ...] = field(
        default_factory=lambda: tuple(threading.Lock() for _ in range(READ_LOCKS))
    )
    # How many times a merchant was forgotten: a read begun before the last time is not
    # kept (what it read may be from before the change that made us forget).
    _forgotten: int = 0

    def __len__(self) -> int:
        """Merchants whose endpoints are held."""
        with self._lock:
            return len(self._lists)

    def of(self, merchant_id: str) -> list[WebhookEndpoint]:
        held = self._held(merchant_id)
        if held is not None:
            return held
        with self._reads[hash(merchant_id) % READ_LOCKS]:
            # Read meanwhile by the thread this one waited for?
            held = self._held(merchant_id)
            return held if held is not None else self._read(merchant_id)

    def _held(self, merchant_id: str) -> list[WebhookEndpoint] | None:
        now = self.clock.now()
        with self._lock:
            held = self._lists.get(merchant_id)
            return held[1] if held is not None and held[0] > now else None

    def _read(self, merchant_id: str) -> list[WebhookEndpoint]:
        with self._lock:
            forgotten = self._forgotten
        endpoints = self.store.list(merchant_id)
        if self.fresh_seconds <= 0:
            return endpoints
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
        return endpoints

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
