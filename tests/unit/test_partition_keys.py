"""The payments indexes' spread keys: stable, even, and ordered as the listing needs."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from core.adapters.partition_keys import (
    in_flight_shard,
    is_listing_key,
    listing_bounds,
    listing_key,
    merchant_bucket,
)

IDS = [str(uuid.UUID(int=n)) for n in range(32_000)]


def test_the_shard_of_a_payment_is_stable_and_shards_fill_evenly() -> None:
    counts = Counter(in_flight_shard(payment_id, 32) for payment_id in IDS)

    assert set(counts) == {str(shard) for shard in range(32)}
    assert max(counts.values()) < 1.1 * 1000 and min(counts.values()) > 0.9 * 1000
    assert in_flight_shard(IDS[7], 32) == in_flight_shard(IDS[7], 32)
    assert {in_flight_shard(payment_id, 1) for payment_id in IDS[:100]} == {"0"}


def test_one_merchants_payments_fill_its_buckets_evenly_and_stay_its_own() -> None:
    counts = Counter(merchant_bucket("m-1", payment_id, 16) for payment_id in IDS)

    assert set(counts) == {f"m-1#{bucket}" for bucket in range(16)}
    assert max(counts.values()) < 1.1 * 2000 and min(counts.values()) > 0.9 * 2000
    assert merchant_bucket("m-1", IDS[3], 16) == merchant_bucket("m-1", IDS[3], 16)
    assert {merchant_bucket("m-2", payment_id, 1) for payment_id in IDS[:100]} == {"m-2#0"}


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ((9, "b"), (10, "a")),
        ((10, "a"), (10, "b")),
        ((999_999, "z"), (1_000_000, "a")),
        ((0, "f"), (253_402_300_799, "0")),
    ],
)
def test_listing_keys_sort_as_text_like_time_then_payment_id(
    earlier: tuple[int, str], later: tuple[int, str]
) -> None:
    assert listing_key(*earlier) < listing_key(*later)


def test_the_bounds_of_a_window_hold_every_key_of_its_first_and_last_second() -> None:
    lower, upper = listing_bounds(100, 200)
    inside = [listing_key(100, "0"), listing_key(150, "x"), listing_key(200, "ffff-ffff")]
    outside = [listing_key(99, "ffff"), listing_key(201, "0")]

    assert all(lower <= key <= upper for key in inside)
    assert not any(lower <= key <= upper for key in outside)


def test_only_a_listing_keys_shape_is_taken_for_a_position() -> None:
    assert is_listing_key(listing_key(1_800_000_000, IDS[5]))
    for text in ("", "1800000000#x", "001800000000#", "001800000000#a b", "001800000000$x"):
        assert not is_listing_key(text)
