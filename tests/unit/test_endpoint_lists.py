"""The publisher's lists of a merchant's endpoints (core/use_cases/endpoint_lists.py): read
once per `fresh_seconds`, the least recently read merchant forgotten first."""

from __future__ import annotations

from core.domain.webhooks import WebhookEndpoint
from core.use_cases.endpoint_lists import KEPT_MERCHANTS, RecentEndpointLists
from tests.fakes import InMemoryEndpointStore
from tests.support import FakeClock


def _store(*merchants: str) -> InMemoryEndpointStore:
    store = InMemoryEndpointStore()
    for n, merchant in enumerate(merchants):
        store.add(WebhookEndpoint(f"we_{n}", merchant, f"https://{merchant}.example/h", 0))
    return store


def test_a_merchants_endpoints_are_read_once_per_fresh_period() -> None:
    store, clock = _store("m1"), FakeClock()
    lists = RecentEndpointLists(store, clock, fresh_seconds=1)

    first = lists.of("m1")
    clock.advance(0.5)
    assert lists.of("m1") == first and store.lists == 1
    clock.advance(0.5)
    assert lists.of("m1") == first and store.lists == 2


def test_with_no_fresh_period_every_event_reads_them() -> None:
    store, clock = _store("m1"), FakeClock()
    lists = RecentEndpointLists(store, clock, fresh_seconds=0)

    for _ in range(3):
        assert [e.endpoint_id for e in lists.of("m1")] == ["we_0"]

    assert store.lists == 3


def test_past_the_merchants_kept_the_least_recently_read_is_read_again() -> None:
    assert KEPT_MERCHANTS == 10_000
    store, clock = _store("m1", "m2", "m3"), FakeClock()
    lists = RecentEndpointLists(store, clock, fresh_seconds=60, kept_merchants=2)
    for merchant in ("m1", "m2", "m3"):
        lists.of(merchant)
    assert store.lists == 3

    lists.of("m2")
    lists.of("m3")
    assert store.lists == 3  # both kept
    lists.of("m1")
    assert store.lists == 4  # forgotten when m3 came
