"""bench/RESULTS.md's scale sections: the partition heat, the capacity model, recovery."""

from __future__ import annotations

from typing import Any

from infra.scaling import DEFAULT_BANK_MAX_CONCURRENCY, EVENT_SOURCE_MAX_CONCURRENCY


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,}"


def _met(met: bool) -> str:
    return "met" if met else "**not met**"


def _heat(heat: dict[str, Any]) -> list[str]:
    lines = [
        "## 6. Partition heat (measured)",
        "",
        f"{heat['payments']:,} payments of the peak mix through create, make (with an "
        "Idempotency-Key), the worker to final and two polls, then "
        f"{heat['refunds']:,} of the accepted ones ({100 * heat['refund_share_assumed']:g}%, "
        "our assumption) refunded in part (refund-payment with an Idempotency-Key, the "
        f"worker, one poll), in-process on moto in {heat['seconds']} s; every DynamoDB "
        "request recorded at botocore with the item before and after it "
        "(bench/capacity_units.py has DynamoDB's rules). Mix: one merchant 50%, the rest "
        "Zipf over 1,000 merchants, 5% through Pending; every merchant has one webhook "
        "endpoint: the event publisher on the payments stream and the delivery worker to a "
        f"receiver on loopback ({heat['webhooks_received']:,} events received). Layout: "
        + ", ".join(f"{name} {value}" for name, value in heat["settings"].items())
        + ".",
        "",
        "| table or index | units | per payment | keys | hottest key | its share "
        f"| its units per payment | ceiling (payments/s) | % of key limit at {heat['rate']:,}/s |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, unit in (("writes", "WCU"), ("reads", "RCU")):
        for target, row in heat[kind].items():
            key = "one per payment" if row["key_per_payment"] else f"`{row['hottest_key']}`"
            lines.append(
                f"| {target} | {unit} | {row['units_per_payment']} | {row['keys']:,} | {key} | "
                f"{100 * row['hottest_share']:.1f}% | {row['hottest_units_per_payment']} | "
                f"{_n(row['ceiling_payments_per_second'])} | {row['percent_of_limit_at_rate']}% |"
            )
    lines += [
        "",
        "A key used by one payment only (its id, its idempotency key) takes that payment's "
        "units once, whatever the rate: its % is of one second's limit. Per-key limits: "
        "1,000 WCU/s and 3,000 RCU/s per partition.",
        "",
        "Each function's invocations: the median time in moto (no network, moto's CPU in "
        "it), paygate's own CPU (moto's taken out, one core of this machine), AWS requests "
        "and records per invocation.",
        "",
        "| function | per payment | ms in moto | CPU ms | requests | records |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, milliseconds in heat["invocation_ms"].items():
        records = heat["records_per_batch"].get(name, "-")
        lines.append(
            f"| {name} | {heat['invocations_per_payment'][name]} | {milliseconds} | "
            f"{heat['cpu_ms'][name]} | {heat['requests_per_invocation'][name]} | {records} |"
        )
    lines.append("")
    return lines


def _model(model: dict[str, Any]) -> list[str]:
    slowest = model["worker_by_bank_latency"][-1]
    assumed = model["assumed"]
    lines = [
        "## 7. Capacity model",
        "",
        f"For {model['rate']:,} payments/s of the mix above, end to end (payments, events, "
        f"webhooks), the bank answering in {model['bank_latency_seconds']:g} s and every "
        f"merchant's endpoint in {assumed['endpoint_latency_seconds']:g} s. Each limit, "
        "paygate's use of it per payment (from section 6 and each function's time on AWS, "
        "below), and the payment rate that reaches it; 'raised' is the quota docs/sizing.md "
        "asks a deployment to request. A function's time on AWS: its measured CPU at its "
        f"memory's share of a vCPU (one at {assumed['vcpu_mb']:,} MB), and its requests at "
        f"{1000 * assumed['request_seconds']:g} ms each (assumed; the worker and the delivery "
        "worker make a batch's at once); the bank's and the endpoint's answers come on top.",
        "",
        "| function | memory (MB) | an invocation on AWS (s) |",
        "| --- | ---: | ---: |",
        *(
            f"| {name} | {row['memory_mb']:,} | {row['seconds']} |"
            for name, row in model["function_seconds_on_aws"].items()
        ),
        "",
        "| limit | quota | per payment | ceiling | quota raised | ceiling raised "
        f"| % at {model['rate']:,}/s | source |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in model["limits"]:
        lines.append(
            f"| {row['name']} | {_n(row['quota'])} {row['unit']} | {row['use_per_payment']} | "
            f"{_n(row['ceiling'])} | {_n(row['raised'])} | {_n(row['ceiling_raised'])} | "
            f"{row['percent_at_rate']}% | {row['source']} |"
        )
    lines += [
        "",
        f"**Binding with AWS's default quotas: {model['binding_default']}, at "
        f"{model['ceiling_default']:,} payments/s.** "
        f"**Binding with the raised quotas: {model['binding_raised']}, at "
        f"{model['ceiling_raised']:,} payments/s** (target at least {model['rate']:,}: "
        f"{_met(model['ceiling_raised'] >= model['rate'])}). Hottest DynamoDB key at "
        f"{model['rate']:,}/s: {model['hottest_key_percent_at_rate']}% of its partition's "
        "limit.",
        "",
        "A merchant on the standard usage plan (50 requests/s) makes at most "
        f"{model['standard_plan_payments_per_merchant']:g} payments/s: put every merchant "
        "expected above that on the large plan (`paygate merchants set-plan ID large`).",
        "",
        "| bank latency | a payment holds a bank call (s) | worker instances | ceiling "
        f"(payments/s) | bank calls in flight for {model['rate']:,}/s |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in model["worker_by_bank_latency"]:
        lines.append(
            f"| {row['bank_latency_seconds']:g} s | {row['seconds_per_payment']} | "
            f"{row['worker_instances']} | {row['ceiling']:,} | {row['bank_calls_needed']:,} |"
        )
    lines += [
        "",
        f"The worker's bound is bankMaxConcurrency ({DEFAULT_BANK_MAX_CONCURRENCY:,} by "
        "default: what the bank is asked to take at once) over how long each payment holds "
        f"a call. At {slowest['bank_latency_seconds']:g} s a bank needs about "
        f"{slowest['bank_calls_needed']:,} calls in flight for {model['rate']:,} payments/s: "
        "raise bankMaxConcurrency and workerConcurrency together (the event source runs at "
        f"most {EVENT_SOURCE_MAX_CONCURRENCY:,} instances).",
        "",
        f"The payments stream: {assumed['stream_shards']} shards at a prod stage's start (a "
        "shard per partition; its warm throughput makes them), read in parallel by the "
        "publisher; a new table without warm throughput (a dev stage's) takes 4,000 writes "
        "and 12,000 reads a second until DynamoDB has scaled it.",
        "",
        "One merchant's webhook endpoints are read by each instance, not for each event: "
        "every delivery instance once every 5 s, every publisher instance once a minute; "
        f"at most {model['endpoint_key_reads_per_second']:g} reads a second of its key, "
        "whatever its rate (a partition takes 3,000).",
        "",
        *_step(model["step_to_rate"], model["rate"]),
    ]
    return lines


def _step(ramps: dict[str, Any], rate: int) -> list[str]:
    lines = [
        f"A step from nothing to {rate:,} payments/s (Lambda's SQS event source: 5 instances "
        "at first, then up to 300 more a minute; Lambda Developer Guide): what it builds "
        "and how long it takes to drain, in payments.",
        "",
        "| event source | instances needed | at most | rate reached (s) | backlog at its peak "
        "| longest wait (s) | drained (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    labels = {
        "worker": "worker (bankMaxConcurrency 7,000)",
        "worker_bank_max_10000": "worker (bankMaxConcurrency 10,000)",
        "webhook_deliveries": "webhook deliveries, fast lane (prod)",
    }
    for name, label in labels.items():
        row = ramps[name]
        lines.append(
            f"| {label} | {row['instances_needed']:,} | {row['instances_at_most']:,} | "
            f"{_n(row['seconds_to_reach_rate'])} | {row['backlog_peak']:,} | "
            f"{row['longest_wait_seconds']} | {_n(row['seconds_to_drain'])} |"
        )
    worker, wider = ramps["worker"], ramps["worker_bank_max_10000"]
    lines += [
        "",
        "The worker's spare capacity past the rate is what drains a step's backlog: at "
        f"bankMaxConcurrency 7,000 it is {_spare(worker)} and the backlog is gone after "
        f"{_minutes(worker)}; a bank that takes 10,000 calls at once ({_spare(wider)} to "
        f"spare) drains it after {_minutes(wider)}. Traffic that grows over minutes (a "
        "sale's start announced) builds little of it.",
        "",
    ]
    return lines


def _spare(ramp: dict[str, Any]) -> str:
    return f"{ramp['instances_at_most'] / ramp['instances_needed'] - 1:.0%}"


def _minutes(ramp: dict[str, Any]) -> str:
    seconds = ramp["seconds_to_drain"]
    return "more than 6 hours" if seconds is None else f"{seconds / 60:.0f} minutes"


def _recovery(recovery: dict[str, Any]) -> list[str]:
    measured = recovery["measured"]
    return [
        "## 8. Reconciler recovery",
        "",
        f"Measured: {measured['stalled']:,} stalled payments re-queued by one run in moto in "
        f"{measured['seconds_in_moto']} s ({measured['payments_per_second_in_moto']}/s on "
        "this machine, moto's CPU time); the reconciler's own CPU (moto's taken out) "
        f"{measured['cpu_ms_per_payment']} ms a stalled payment on one core. Requests per "
        "stalled payment: "
        + ", ".join(f"{name} {count}" for name, count in measured["requests_per_payment"].items())
        + " (jobs go 10 to a SendMessageBatch).",
        "",
        "On AWS, assuming "
        + ", ".join(f"{op} {ms} ms" for op, ms in recovery["aws_latency_ms_assumed"].items())
        + f" per request, "
        f"{recovery['reconcile_concurrency']} payments looked at once and the CPU at "
        f"{recovery['memory_mb']:,} MB ({recovery['vcpu_share']:g} of a vCPU), not overlapped "
        "with the waits: a page of 100 takes "
        f"{recovery['page_seconds_on_aws']} s, a run ({recovery['payments_per_run']:,} "
        f"payments at most) works through {recovery['backlog']:,} in "
        f"{recovery['working_seconds']} s over {recovery['runs']} run(s). Worst case, the "
        "backlog falls due just after a run started and waits for the next: "
        f"**{recovery['worst_case_seconds']} s against a goal of {recovery['goal_seconds']} s**. "
        f"(At moto's rate here it would take {recovery['moto_rate_seconds']:,} s: moto "
        "in-process is CPU-bound on this 2-core machine, not a model of AWS.)",
        "",
    ]


def render_scale(results: dict[str, Any]) -> list[str]:
    return [
        *_heat(results["partition_heat"]),
        *_model(results["capacity_model"]),
        *_recovery(results["reconciler_recovery"]),
    ]
