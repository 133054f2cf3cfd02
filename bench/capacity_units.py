"""DynamoDB's capacity arithmetic, from the item before and after each request: the write
and read units that land on each partition key of a table and of each of its indexes.

The rules, as DynamoDB documents them (Developer Guide, "Read/write capacity mode" and
"Provisioned throughput considerations for global secondary indexes", read 2026-11):
- a write costs 1 unit per started KB of the larger of the item before and after it; a
  transactional write costs twice that; a failed conditional write still costs its units;
- an index is written only when the write adds, removes or changes its entry: an entry
  exists when the item has the index's key attributes, and changes when a key or a
  projected attribute does; a change of index key is a delete plus a put (2 writes);
- a read costs 1 unit per started 4 KB (half for an eventually consistent one), a query
  per started 4 KB of all the items it read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.resources import IndexSpec, TableSpec

Item = Mapping[str, Mapping[str, Any]]
KB = 1024
READ_UNIT_BYTES = 4 * KB


def _number_size(text: str) -> int:
    digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "").lstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """A DynamoDB attribute value's size in bytes (the documented rule per type)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return _number_size(str(raw))
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(text).encode()) for text in raw)
    if kind == "NS":
        return sum(_number_size(str(number)) for number in raw)
    if kind == "BS":
        return sum(len(blob) for blob in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in raw)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(v) for name, v in raw.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def index_entry(table: TableSpec, index: IndexSpec, item: Item | None) -> dict[str, Any] | None:
    """What `index` holds of `item`, or None when the item is not in it (sparse index)."""
    if not item:
        return None
    keys = [index.partition_key.name] + ([index.sort_key.name] if index.sort_key else [])
    if any(name not in item for name in keys):
        return None
    if index.projected is None:
        return dict(item)
    names = {table.partition_key.name, *keys, *index.projected}
    return {name: value for name, value in item.items() if name in names}


def index_writes(
    table: TableSpec, index: IndexSpec, before: Item | None, after: Item | None
) -> list[tuple[str, int]]:
    """The index writes one table write causes, as (index partition key, units) pairs."""
    old, new = index_entry(table, index, before), index_entry(table, index, after)
    if old == new:
        return []
    keys = [index.partition_key.name] + ([index.sort_key.name] if index.sort_key else [])
    if old is not None and new is not None and all(old[name] == new[name] for name in keys):
        return [(_key_text(new[keys[0]]), write_units(item_size(new)))]
    entries = [entry for entry in (old, new) if entry is not None]
    return [(_key_text(entry[keys[0]]), write_units(item_size(entry))) for entry in entries]


def _key_text(value: Mapping[str, Any]) -> str:
    ((_, raw),) = value.items()
    return str(raw)


def table_write_units(before: Item | None, after: Item | None, *, transactional: bool) -> int:
    units = write_units(max(item_size(before), item_size(after)))
    return units * 2 if transactional else units


def key_of(table: TableSpec, item: Item) -> str:
    return _key_text(item[table.partition_key.name])
