"""`make bench`: every benchmark in one run, each against its floor measured in the same
run (this machine is shared and noisy: ratios, not absolute times, are what compare).
Writes bench/results.json and the table bench/RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    aws_calls,
    capacity_model,
    cold_start,
    end_to_end,
    footprint,
    partition_heat,
    reconciler_recovery,
    simulation_speed,
    webhook_isolation,
    worker_concurrency,
)
from bench.scale_report import render_scale

HERE = Path(__file__).resolve().parent
COLD_START_TARGET = 1.3
# Issue #25: A's webhook p99 beside B's tarpit, at most this many times its p99 alone.
ISOLATION_TARGET = 2.0


def progress(message: str) -> None:
    print(message, flush=True)


def collect() -> dict[str, Any]:
    payments = int(os.environ.get("BENCH_PAYMENTS", "1000"))
    clients = int(os.environ.get("BENCH_CLIENTS", "16"))
    started = time.perf_counter()
    results: dict[str, Any] = {
        "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
    }
    heat_payments = int(os.environ.get("BENCH_HEAT_PAYMENTS", "2000"))
    progress("1/7 cold start per entry point (fresh interpreters)")
    results["cold_start"] = cold_start.measure(progress=progress)
    progress("2/7 AWS requests per payment (moto)")
    results["aws_calls"] = aws_calls.measure()
    progress("3/7 worker concurrency: a batch of 10 at 200 ms bank latency")
    results["worker_concurrency"] = worker_concurrency.measure()
    progress("4/7 end to end on the local stack")
    results["end_to_end"] = end_to_end.measure(payments, clients, progress=progress)
    progress("4b/7 webhook isolation: merchant A beside merchant B's tarpit (local stack)")
    results["webhook_isolation"] = webhook_isolation.measure(progress=progress)
    progress(f"5/7 partition heat: {heat_payments} payments of the peak mix (moto, ~5 minutes)")
    results["partition_heat"] = partition_heat.measure(heat_payments)
    results["capacity_model"] = capacity_model.model(results["partition_heat"])
    progress("6/7 reconciler recovery: a stalled backlog (moto)")
    results["reconciler_recovery"] = reconciler_recovery.measure()
    progress("7/7 asset sizes (a synth) and worker peak memory")
    results["footprint"] = {
        "asset_unzipped_mb": footprint.asset_sizes_mb(),
        "worker_batch_of_10": footprint.worker_peak_memory(),
    }
    progress("7b/7 the deterministic simulation's speed (tests/simulation)")
    results["simulation"] = simulation_speed.measure()
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _phases(row: dict[str, Any]) -> str:
    return "; ".join(
        f"{phase}: " + ", ".join(f"{op} x{n}" for op, n in ops.items())
        for phase, ops in row["by_phase"].items()
        if phase not in ("setup",)
    )


def _costs(cost: dict[str, float]) -> str:
    return (
        ", ".join(f"{name} ${value}" for name, value in cost.items() if name != "total")
        + f"; **total ${cost['total']}**"
    )


def render(results: dict[str, Any]) -> str:
    lines = [
        "# paygate benchmarks",
        "",
        f"Run {results['when']} on {results['machine']}, in {results['seconds']} s. "
        "Each figure stands next to its floor, measured in the same run.",
        "",
        "## 1. Cold start per entry point",
        "",
        "Median of 15 fresh interpreters: import the module and build what its first "
        "invocation builds (composition root, boto3 clients) vs. importing boto3 and creating "
        "the same clients. With SnapStart (a prod stage's API functions) Lambda runs this "
        "when a version is published and snapshots it; a cold start restores the snapshot, "
        "so this work is not on it (its restore time cannot be measured off AWS). Met: "
        "within the target, or started from a snapshot in prod.",
        "",
        "| entry point | entry (ms) | floor (ms) | ratio | target | met | SnapStart in prod |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, row in results["cold_start"].items():
        lines.append(
            f"| {name} | {row['entry_ms']} | {row['floor_ms']} | {row['ratio']}x | "
            f"<= {COLD_START_TARGET}x | "
            f"{_mark(row['ratio'] <= COLD_START_TARGET or bool(row.get('snap_start_in_prod')))} | "
            f"{'yes' if row.get('snap_start_in_prod') else 'no'} |"
        )
    calls = results["aws_calls"]
    cost = calls["monthly_cost_per_million_payments"]
    lines += [
        "",
        "## 2. AWS requests per payment",
        "",
        "One lifecycle in moto (create, make, worker to final, the event publisher on the "
        "payments stream, one get), counted at botocore; with a webhook endpoint, its two "
        "deliveries too (to a real receiver on loopback).",
        "",
        "| path | paygate's calls | target | met | by phase |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    targets = {
        "accepted": calls["target"],
        "accepted_with_a_webhook": calls.get("target_with_an_endpoint"),
    }
    for path in ("accepted", "pending_then_accepted", "accepted_with_a_webhook"):
        row, target = calls[path], targets.get(path)
        met = "-" if target is None else _mark(row["per_payment"] <= target)
        lines.append(
            f"| {path} | {row['per_payment']} | {target or '-'} | {met} | {_phases(row)} |"
        )
    refund = calls.get("refund")
    if refund is not None:
        lines.append(
            f"| a refund of an accepted payment | {refund['per_refund']} | - | - | "
            f"{_phases(refund)} |"
        )
    lines += [
        "",
        "Not counted as paygate's: the bank simulator's ledger and switches, the "
        "authorizer's merchant lookup (cached 5 minutes by API Gateway), what a function "
        "instance does once a day or once a minute per merchant (listed as 'once per "
        "instance'), and the SQS receive/delete of Lambda's event source mapping.",
        "",
        f"KMS requests per payment, steady state: {calls.get('kms_per_payment', '-')} "
        f"(target at most {calls.get('target_kms_per_payment', '-')}).",
        "",
        "Monthly cost of one million payments (us-east-1 on-demand list prices, 2026-11; "
        "see `bench/aws_calls.py` for the prices and assumptions; target at most "
        f"${calls.get('target_cost_per_million', '-')}): "
        + _costs(cost)
        + ". With one webhook endpoint per merchant: "
        + _costs(calls["monthly_cost_per_million_payments_with_a_webhook"])
        + ".",
    ]
    if refund is not None:
        lines[-1] += " One million refunds (refund-payment and one get each): " + (
            _costs(calls["monthly_cost_per_million_refunds"]) + "."
        )
    worker = results["worker_concurrency"]
    lines += [
        "",
        "## 3. Worker concurrency",
        "",
        "| batch of 10, bank at 200 ms | concurrent (s) | sequential (s) | speed-up "
        "| target | met |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| median of 3 | {worker['concurrent_seconds']} | {worker['sequential_seconds']} | "
        f"{worker['speedup']}x | >= {worker['target_speedup']}x | "
        f"{_mark(worker['speedup'] >= worker['target_speedup'])} |",
    ]
    e2e = results["end_to_end"]
    lines += [
        "",
        "## 4. End to end on the local stack",
        "",
        f"{e2e['payments']} payments from {e2e['clients']} concurrent clients over HTTP, each "
        "creating, submitting and polling its payment until final; the stack delivers their "
        "webhooks meanwhile, on the same moto server (the floor is measured once they have "
        "all arrived: it has the server to itself, the throughput shares it).",
        "",
        "| throughput (payments/s) | floor (payments/s) | ratio | target | met | lost | 5xx |",
        "| ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        f"| {e2e['throughput_per_second']} | {e2e['floor_payments_per_second']} | "
        f"{e2e['ratio']} | >= {e2e['target_ratio']} | {_mark(e2e['ratio'] >= e2e['target_ratio'])} "
        f"| {e2e['lost']} | {e2e['server_errors']} |",
        "",
        "| latency (ms) | p50 | p95 | p99 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, row in e2e["latency_ms"].items():
        lines.append(f"| {name} | {row['p50']} | {row['p95']} | {row['p99']} |")
    final = e2e["make_to_final_ms"]
    lines.append(f"| make-payment to final | {final['p50']} | - | {final['p99']} |")
    lines += render_webhook_drain(e2e)
    lines += render_webhook_isolation(results)
    lines += render_simulation(results)
    foot = results["footprint"]
    memory = foot["worker_batch_of_10"]
    lines += [
        "",
        "## 5. Footprint",
        "",
        "| function | asset unzipped (MB) |",
        "| --- | ---: |",
        *(f"| {name} | {size} |" for name, size in foot["asset_unzipped_mb"].items()),
        "",
        f"Worker handling a batch of 10: {memory['batch_peak_python_mb']} MB of Python "
        f"allocations at peak (tracemalloc); the whole process, moto included, peaked at "
        f"{memory['process_peak_rss_mb']} MB RSS.",
        "",
        *render_scale(results),
    ]
    return "\n".join(lines)


def render_webhook_drain(e2e: dict[str, Any]) -> list[str]:
    """Section 4's webhooks: how soon the payments' events all reached the merchant."""
    hooks = e2e.get("webhooks")
    if hooks is None:
        return []
    drained = "not all" if hooks["drained_seconds"] is None else hooks["drained_seconds"]
    ratio = "-" if hooks["ratio"] is None else f"{hooks['ratio']}x"
    return [
        "",
        "The merchant has one webhook endpoint (a receiver on loopback answering 200 at "
        "once): seconds from the first payment until all were final, and until every event "
        f"they made ({hooks['events_expected']}: one per status each reached) had reached "
        f"the receiver ({hooks['posts_received']} POSTs, {hooks['distinct_event_ids']} "
        "distinct events).",
        "",
        "| payments final (s) | webhooks drained (s) | ratio | target | met |",
        "| ---: | ---: | ---: | ---: | --- |",
        f"| {hooks['payments_final_seconds']} | {drained} | {ratio} | "
        f"<= {hooks['target_ratio']}x | {_mark(hooks['met'])} |",
    ]


def render_webhook_isolation(results: dict[str, Any]) -> list[str]:
    """Section 4b, once a run has measured it (bench/webhook_isolation.py)."""
    iso = results.get("webhook_isolation")
    if iso is None:
        return []
    return [
        "",
        "## 4b. One merchant's slow webhooks beside another's",
        "",
        f"Merchant A's webhook latency (make-payment answered to its event at A's receiver), "
        f"{iso['payments']} payments alone, then beside merchant B's tarpit "
        f"({iso['tarpit']}, B paying once a second) once paygate has found B's endpoints "
        f"slow. While B's tarpit starts, A's slowest of "
        f"{iso['starting_payments']} took {iso['tarpit_starting_max_s']} s.",
        "",
        "| A's latency (s) | p50 | p99 |",
        "| --- | ---: | ---: |",
        f"| alone | {iso['alone_p50_s']} | {iso['alone_p99_s']} |",
        f"| beside B's tarpit | {iso['beside_tarpit_p50_s']} | {iso['beside_tarpit_p99_s']} |",
        "",
        f"p99 ratio {iso['p99_ratio']}x (target <= 2x): "
        f"{_mark(iso['p99_ratio'] <= ISOLATION_TARGET)}.",
    ]


def render_simulation(results: dict[str, Any]) -> list[str]:
    """Section 4c, once a run has measured it (bench/simulation_speed.py)."""
    sim = results.get("simulation")
    if sim is None:
        return []
    return [
        "",
        "## 4c. The deterministic simulation",
        "",
        f"Seeds 0..{sim['seeds'] - 1} of `make simulate`: {sim['steps']} steps in "
        f"{sim['seconds']} s, **{sim['seeds_per_second']} seeds/s, "
        f"{sim['steps_per_second']} steps/s**; {sim['broken_seeds']} seeds broke an "
        f"invariant. At this speed `make test`'s 500 seeds take about "
        f"{sim['make_test_seconds_for_500']} s (target <= 60 s): "
        f"{_mark(sim['make_test_seconds_for_500'] <= 60)}.",
    ]


def main() -> None:
    results = collect()
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "RESULTS.md").write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
