"""The capacity model's arithmetic (bench/capacity_model.py): a step's backlog while Lambda's
SQS event source scales, and a function's time on AWS from its CPU at its memory."""

from __future__ import annotations

from typing import Any

from bench.capacity_model import (
    SQS_INSTANCES_PER_MINUTE,
    SQS_START_INSTANCES,
    VCPU_MB,
    aws_seconds,
    memory_of,
    step_to,
)
from bench.partition_heat import PUBLISHER, WORKER


def test_a_step_is_met_once_the_event_source_has_grown_and_its_backlog_drains() -> None:
    # one job a second an instance: 5 at first, 5 more a second (300 a minute)
    assert SQS_START_INSTANCES == 5 and SQS_INSTANCES_PER_MINUTE == 300
    step = step_to(rate=100, per_instance=1.0, most=200)

    assert step["instances_needed"] == 100
    assert step["seconds_to_reach_rate"] == 19  # 5 + 5 x 19 = 100
    # the backlog is what the first 18 seconds left undone: sum of 100 - (5 + 5 t)
    assert step["backlog_peak"] == sum(100 - (5 + 5 * t) for t in range(1, 19))
    assert step["seconds_to_drain"] is not None and step["seconds_to_drain"] > 19


def test_a_step_above_what_the_instances_can_take_never_drains() -> None:
    step = step_to(rate=500, per_instance=1.0, most=400)

    assert step["seconds_to_reach_rate"] is None and step["seconds_to_drain"] is None


def _heat(cpu_ms: float, requests: float) -> dict[str, Any]:
    return {
        "cpu_ms": {PUBLISHER: cpu_ms, WORKER: cpu_ms},
        "requests_per_invocation": {PUBLISHER: requests, WORKER: requests},
        "records_per_batch": {PUBLISHER: 50.0, WORKER: 10.0},
    }


def test_a_functions_cpu_takes_longer_the_less_memory_it_has() -> None:
    heat = _heat(cpu_ms=10.0, requests=0.0)

    # the publisher's memory gives it that share of a vCPU
    assert aws_seconds(heat, PUBLISHER) == 0.010 * VCPU_MB / memory_of(PUBLISHER)
    assert memory_of(PUBLISHER) < VCPU_MB


def test_the_workers_requests_are_made_a_batch_at_once() -> None:
    heat = _heat(cpu_ms=0.0, requests=40.0)

    # 40 requests one after another for the publisher, a batch of 10's at once for the worker
    assert aws_seconds(heat, WORKER) == aws_seconds(heat, PUBLISHER) / 10
