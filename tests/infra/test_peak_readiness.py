"""What a prod stack needs to take its peak from the first second (the capacity model,
bench/RESULTS.md): tables and indexes warm, the payments stream read in parallel, the
delivery worker's instances and memory; a dev stack pays for none of it."""

from __future__ import annotations

from typing import Any

from core.resources import (
    EVENTS_TABLE,
    IDEMPOTENCY_TABLE,
    MERCHANTS_TABLE,
    PAYMENTS_STREAM_SOURCE,
    PAYMENTS_TABLE,
    TableSpec,
)
from infra.functions import EVENT_PUBLISHER, WEBHOOK_DELIVERY
from infra.scaling import PROD_WEBHOOK_INSTANCES, WARM_THROUGHPUT
from tests.infra.conftest import Synthesized

# Storage's attributes, and the specs of their tables (a table not warmed among them).
_TABLES = {
    "payments": PAYMENTS_TABLE,
    "idempotency": IDEMPOTENCY_TABLE,
    "events": EVENTS_TABLE,
    "merchants": MERCHANTS_TABLE,
}


def _warm_of(synth: Synthesized) -> dict[str, tuple[int, int]]:
    """Each table's and index's warm throughput (read, write), by "table" or "table.index"."""
    storage = synth.stack.storage
    tables = {synth.logical_id(getattr(storage, name)): spec for name, spec in _TABLES.items()}
    warm = {}
    for logical_id, resource in synth.resources("AWS::DynamoDB::Table").items():
        spec: TableSpec | None = tables.get(logical_id)
        if spec is None:
            continue
        properties = resource["Properties"]
        targets = [(spec.logical_name, properties)] + [
            (f"{spec.logical_name}.{index['IndexName']}", index)
            for index in properties.get("GlobalSecondaryIndexes", [])
        ]
        for target, holder in targets:
            if "WarmThroughput" in holder:
                units = holder["WarmThroughput"]
                warm[target] = (units["ReadUnitsPerSecond"], units["WriteUnitsPerSecond"])
    return warm


def test_a_prod_stack_has_its_tables_and_indexes_warm_for_the_peak(synth_prod: Synthesized) -> None:
    assert _warm_of(synth_prod) == WARM_THROUGHPUT
    assert PAYMENTS_TABLE.logical_name in WARM_THROUGHPUT


def test_a_dev_stack_warms_no_table(synth: Synthesized) -> None:
    assert _warm_of(synth) == {}


def _function(synth: Synthesized, function: Any) -> dict[str, Any]:
    return dict(synth.resources("AWS::Lambda::Function")[synth.logical_id(function)])


def test_the_payments_stream_is_read_in_parallel_by_a_publisher_with_the_cpu_it_needs(
    synth_prod: Synthesized,
) -> None:
    functions = synth_prod.stack.functions
    (stream,) = [
        m["Properties"]
        for m in synth_prod.resources("AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" in m["Properties"]
    ]
    assert stream["ParallelizationFactor"] == PAYMENTS_STREAM_SOURCE.parallelization_factor > 1
    publisher = _function(synth_prod, functions.event_publisher)
    assert publisher["Properties"]["MemorySize"] == EVENT_PUBLISHER.memory_mb == 512


def test_a_prod_stack_runs_enough_delivery_instances_with_the_cpu_they_need(
    synth_prod: Synthesized, synth: Synthesized
) -> None:
    assert synth_prod.stack.scaling.webhook_instances == PROD_WEBHOOK_INSTANCES
    assert synth.stack.scaling.webhook_instances < PROD_WEBHOOK_INSTANCES
    delivery = _function(synth_prod, synth_prod.stack.functions.webhook_delivery)
    assert delivery["Properties"]["MemorySize"] == WEBHOOK_DELIVERY.memory_mb == 1024
