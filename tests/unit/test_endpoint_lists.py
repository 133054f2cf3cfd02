"""The publisher's lists of a merchant's endpoints (core/use_cases/endpoint_lists.py): read
once per `fresh_seconds`, the least recently read merchant forgotten first."""

from __future__ import annotations

import threading

import pytest

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


class _HeldStore(InMemoryEndpointStore):
    """Its reads wait until released, so a test can act while one is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()
        self.release = threading.Event()

    def list(self, merchant_id: str) -> list[WebhookEndpoint]:
        self.reading.set()
        assert self.release.wait(5)
        return super().list(merchant_id)


def test_while_one_thread_reads_a_merchants_endpoints_anew_the_others_use_the_last() -> None:
    # GIVEN a merchant's endpoints read once, and past their time
    store, clock = _HeldStore(), FakeClock()
    store.add(WebhookEndpoint("we_0", "m1", "https://m1.example/h", 0))
    lists = RecentEndpointLists(store, clock, fresh_seconds=5)
    store.release.set()
    lists.of("m1")
    clock.advance(5)
    store.release.clear()
    store.reading.clear()

    # WHEN ten threads of a batch want them at once, the first one's read under way
    answers: list[list[WebhookEndpoint]] = []
    first = threading.Thread(target=lambda: answers.append(lists.of("m1")))
    first.start()
    assert store.reading.wait(5)
    others = [threading.Thread(target=lambda: answers.append(lists.of("m1"))) for _ in range(9)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(5)

    # THEN the nine answered at once with the last list, without a read (or a wait) of theirs
    assert len(answers) == 9 and store.lists == 1
    store.release.set()
    first.join(5)
    assert len(answers) == 10 and {len(a) for a in answers} == {1}
    assert store.lists == 2


def test_a_read_under_way_when_the_merchant_is_forgotten_is_not_kept() -> None:
    store, clock = _HeldStore(), FakeClock()
    lists = RecentEndpointLists(store, clock, fresh_seconds=5)
    reader = threading.Thread(target=lambda: lists.of("m1"))
    reader.start()
    assert store.reading.wait(5)

    lists.forget("m1")  # e.g. this instance marked one of its endpoints slow meanwhile
    store.release.set()
    reader.join(5)

    lists.of("m1")
    assert store.lists == 2  # read again: the first answer may predate the mark


def test_merchants_past_their_time_are_let_go() -> None:
    store, clock = _store("m1", "m2", "m3"), FakeClock()
    lists = RecentEndpointLists(store, clock, fresh_seconds=5)
    lists.of("m1")
    lists.of("m2")
    assert len(lists) == 2

    clock.advance(5)
    lists.of("m3")

    assert len(lists) == 1


@pytest.mark.parametrize("fresh_seconds", [1, 5])
def test_an_endpoint_missing_from_a_kept_list_is_looked_for_again_before_taken_for_gone(
    fresh_seconds: int,
) -> None:
    store, clock = _store("m1"), FakeClock()
    lists = RecentEndpointLists(store, clock, fresh_seconds=fresh_seconds)
    assert lists.endpoint("m1", "we_0") is not None
    store.add(WebhookEndpoint("we_new", "m1", "https://m1.example/new", 0))

    assert lists.endpoint("m1", "we_new") is not None  # registered after the list was read
    assert lists.endpoint("m1", "we_gone") is None


def test_with_no_fresh_period_a_missing_endpoint_is_read_for_once() -> None:
    store, clock = _store("m1"), FakeClock()
    lists = RecentEndpointLists(store, clock, fresh_seconds=0)

    assert lists.endpoint("m1", "we_gone") is None
    assert store.lists == 1


def test_every_forgetting_tells_a_read_under_way_not_only_the_first() -> None:
    store, clock = _HeldStore(), FakeClock()
    lists = RecentEndpointLists(store, clock, fresh_seconds=5)
    lists.forget("m1")  # an earlier change
    reader = threading.Thread(target=lambda: lists.of("m1"))
    reader.start()
    assert store.reading.wait(5)

    lists.forget("m1")  # and another, while the read is under way
    store.release.set()
    reader.join(5)

    lists.of("m1")
    assert store.lists == 2
