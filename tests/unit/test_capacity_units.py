"""The partition-heat benchmark's DynamoDB arithmetic (bench/capacity_units.py), on items
as DynamoDB's documentation sizes and bills them."""

from __future__ import annotations

from typing import Any

from bench.capacity_units import index_writes, item_size, read_units, table_write_units
from core.resources import BY_MERCHANT_INDEX, IN_FLIGHT_INDEX, PAYMENTS_TABLE


def _item(**changes: Any) -> dict[str, Any]:
    item = {
        "paymentId": {"S": "p-1"},
        "merchantBucket": {"S": "m-1#3"},
        "listKey": {"S": "000000000100#p-1"},
        "merchantId": {"S": "m-1"},
        "createdAt": {"N": "100"},
        "status": {"S": "Processing"},
        "lastError": {"S": "bank timeout"},
        "inFlight": {"S": "7"},
        "reconcileAt": {"N": "1300"},
    }
    item.update(changes)
    return {name: value for name, value in item.items() if value is not None}


def test_sizes_follow_dynamodbs_rules_and_round_up_to_a_unit() -> None:
    assert item_size({"ab": {"S": "xyz"}}) == 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4  # ceil(5 digits / 2) + 1
    assert item_size({"b": {"BOOL": True}}) == 2
    assert table_write_units(None, {"x": {"S": "a" * 1500}}, transactional=False) == 2
    assert table_write_units(None, {"x": {"S": "a"}}, transactional=True) == 2
    assert read_units(5000, consistent=True) == 2 and read_units(10, consistent=False) == 0.5


def test_an_index_is_written_only_when_its_keys_or_projected_attributes_change() -> None:
    before = _item()

    # A failure note: not projected into either index
    noted = _item(lastError={"S": "throttled"})
    assert index_writes(PAYMENTS_TABLE, BY_MERCHANT_INDEX, before, noted) == []
    assert index_writes(PAYMENTS_TABLE, IN_FLIGHT_INDEX, before, noted) == []

    # A status change: the listing's entry is rewritten in place (one write)
    final = _item(status={"S": "Accepted"}, inFlight=None, reconcileAt=None)
    assert index_writes(PAYMENTS_TABLE, BY_MERCHANT_INDEX, before, final) == [("m-1#3", 1)]
    # ... and leaving flight deletes the in-flight entry (one write on its shard)
    assert index_writes(PAYMENTS_TABLE, IN_FLIGHT_INDEX, before, final) == [("7", 1)]

    # A new reconcile time moves the in-flight entry's sort key: a delete and a put
    later = _item(reconcileAt={"N": "2500"})
    assert index_writes(PAYMENTS_TABLE, IN_FLIGHT_INDEX, before, later) == [("7", 1), ("7", 1)]
