"""The capacity model: each limit that binds paygate on AWS, its quota (with its source and
the date it was read), paygate's use of it per payment (measured by the partition-heat run:
DynamoDB units per key, KMS and SQS requests, invocation times), and the payment rate at
which it is reached. The table names the binding limit, with AWS's default quotas and with
the quotas docs/sizing.md asks a deployment to raise.

Rates are payments per second. A payment here is the issue's mix: create, make (with an
Idempotency-Key), the worker to final (5% through Pending), two get-payment polls; and a
share of payments refunded in part (bench/partition_heat.py REFUND_SHARE): refund-payment,
the worker asking the bank, one poll.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from bench.partition_heat import (
    BACKGROUND,
    BIG_MERCHANT_SHARE,
    DELIVERY,
    PARTITION_READ_UNITS,
    PARTITION_WRITE_UNITS,
    PUBLISHER,
    WORKER,
)
from core.domain.webhook_retry import FAST_LANE_PATIENCE_SECONDS, SLOW_SENDS_PER_MERCHANT
from core.resources import DELIVERIES_SOURCE, PAYMENTS_STREAM_SOURCE, SLOW_DELIVERIES_SOURCE
from core.settings import default_of
from infra.api import MERCHANT_RATE_LIMIT
from infra.functions import DEFAULT_MEMORY_MB, EVENT_PUBLISHER, WEBHOOK_DELIVERY, FunctionSpec
from infra.functions import WORKER as WORKER_FUNCTION
from infra.scaling import (
    DEFAULT_API_RATE_LIMIT,
    DEFAULT_BANK_MAX_CONCURRENCY,
    DEFAULT_LARGE_MERCHANT_RATE_LIMIT,
    DEFAULT_PUBLISHER_CONCURRENCY,
    EVENT_SOURCE_MAX_CONCURRENCY,
    PROD_WEBHOOK_INSTANCES,
    WARM_THROUGHPUT,
    Scaling,
)

READ_ON = "read 2026-11-28"
DYNAMODB_KEYS = f"DynamoDB Developer Guide, partition key design (hard limit; {READ_ON})"
DYNAMODB_TABLES = (
    f"DynamoDB Developer Guide, service quotas: on-demand table (adjustable; {READ_ON})"
)
LAMBDA_QUOTAS = f"Lambda Developer Guide, quotas (adjustable; {READ_ON})"
API_QUOTAS = f"API Gateway Developer Guide, quotas (adjustable; {READ_ON})"
KMS_QUOTAS = (
    f"KMS Developer Guide, request quotas: symmetric cryptographic operations, GenerateMac "
    f"included; 10,000 in most Regions, 20,000 in six (adjustable; {READ_ON})"
)
SQS_QUOTAS = f"SQS Developer Guide, quotas: in-flight messages of a standard queue ({READ_ON})"
OURS = "paygate's own setting (infra/)"

TABLE_REQUEST_UNITS = 40_000
LAMBDA_ACCOUNT_CONCURRENCY = 1000
API_ACCOUNT_RPS = 10_000
KMS_SYMMETRIC_RPS_US_EAST_1 = 100_000
SQS_IN_FLIGHT = 120_000
# What docs/sizing.md asks a deployment to raise to, for 5,000 payments/s with headroom.
RAISED_LAMBDA_CONCURRENCY = 3000
RAISED_API_ACCOUNT_RPS = 30_000
BANK_LATENCIES = (0.2, 1.0, 3.0)
MODEL_BANK_LATENCY = 1.0
# Assumptions, not measurements: a merchant's webhook receiver answers in 0.3 s; an AWS
# request (DynamoDB, SQS) in the Region takes 8 ms.
ENDPOINT_LATENCY = 0.3
REQUEST_SECONDS = 0.008
# Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB (Lambda
# Developer Guide, memory and computing power).
VCPU_MB = 1769
# A new on-demand table (or index) serves this many units a second until it has scaled.
NEW_TABLE_UNITS = {"writes": 4000, "reads": 12_000}
NEW_TABLES = (
    f"DynamoDB Developer Guide, on-demand initial throughput and warm throughput ({READ_ON})"
)
STREAMS = (
    f"Lambda Developer Guide, DynamoDB event source: parallelization factor 1 to 10 per "
    f"shard; DynamoDB Streams: a shard per partition ({READ_ON})"
)
# Lambda's SQS event source (standard mode): 5 concurrent invocations at first, then up to
# 300 more a minute.
SQS_START_INSTANCES = 5
SQS_INSTANCES_PER_MINUTE = 300
SQS_SCALING = f"Lambda Developer Guide, scaling of SQS event sources ({READ_ON})"


def cpu_slowdown(memory_mb: int) -> float:
    """How much longer CPU work takes in a function of `memory_mb` than on one whole core
    (more than one vCPU is no use to its one Python thread at a time)."""
    return max(1.0, VCPU_MB / memory_mb)


def memory_of(name: str) -> int:
    """A function's memory by its name in the mix: the API's are built with the default."""
    specs: dict[str, FunctionSpec] = {
        WORKER: WORKER_FUNCTION,
        PUBLISHER: EVENT_PUBLISHER,
        DELIVERY: WEBHOOK_DELIVERY,
    }
    return specs[name].memory_mb if name in specs else DEFAULT_MEMORY_MB


def aws_seconds(heat: dict[str, Any], name: str) -> float:
    """One invocation on AWS, the endpoint's or the bank's answer aside: paygate's CPU
    (measured, moto's taken out) at the function's share of a vCPU, and its requests at
    REQUEST_SECONDS each (the worker and the delivery worker make a batch's at once)."""
    cpu = float(heat["cpu_ms"][name]) / 1000 * cpu_slowdown(memory_of(name))
    at_once = float(heat["records_per_batch"][name]) if name in (WORKER, DELIVERY) else 1.0
    return cpu + float(heat["requests_per_invocation"][name]) / at_once * REQUEST_SECONDS


@dataclass(frozen=True)
class Limit:
    name: str
    quota: float
    unit: str
    source: str
    use_per_payment: float
    raised: float | None = None

    def ceiling(self, quota: float | None = None) -> int | None:
        """The payment rate at which this limit is reached (None: it does not grow with it)."""
        if self.use_per_payment <= 0:
            return None
        return int((quota if quota is not None else self.quota) / self.use_per_payment)

    def row(self, rate: int) -> dict[str, Any]:
        ceiling, raised = self.ceiling(), self.ceiling(self.raised) if self.raised else None
        effective = raised or ceiling
        return asdict(self) | {
            "ceiling": ceiling,
            "ceiling_raised": raised,
            "percent_at_rate": round(100 * rate / effective, 1) if effective else 0.0,
        }


def _dynamodb_limits(heat: dict[str, Any]) -> list[Limit]:
    limits = []
    for kind, unit, per_key in (
        ("writes", "WCU/s", PARTITION_WRITE_UNITS),
        ("reads", "RCU/s", PARTITION_READ_UNITS),
    ):
        for target, row in heat[kind].items():
            if row["key_per_payment"]:
                continue  # a key of one payment: its load does not grow with the rate
            limits.append(
                Limit(
                    f"DynamoDB {target}: hottest key {kind} ({row['hottest_key']})",
                    per_key,
                    unit,
                    DYNAMODB_KEYS,
                    row["hottest_units_per_payment"],
                )
            )
        for target, row in heat[kind].items():
            limits.append(
                Limit(
                    f"DynamoDB {target}: table {kind} (on-demand)",
                    TABLE_REQUEST_UNITS,
                    unit,
                    DYNAMODB_TABLES,
                    row["units_per_payment"],
                )
            )
    return limits


def worker_seconds_per_payment(heat: dict[str, Any], bank_latency: float) -> float:
    """How long one payment holds a worker slot (and a bank call slot): for each of its jobs
    (its authorization, a Pending one's recheck, a refund), the bank's answer plus the
    worker's own time for its batch (measured with an instant bank)."""
    per_job = bank_latency + aws_seconds(heat, WORKER)
    return float(heat["worker_jobs_per_payment"]) * per_job


def delivery_seconds_per_payment(heat: dict[str, Any]) -> float:
    """How long a payment's deliveries hold a fast-lane place: each its batch's time and
    the endpoint's answer."""
    per_delivery = aws_seconds(heat, DELIVERY) + ENDPOINT_LATENCY
    return float(heat["records_per_payment"][DELIVERY]) * per_delivery


def publisher_seconds_per_payment(heat: dict[str, Any]) -> float:
    """Batch-seconds of the publisher per payment: its stream records' share of a batch."""
    records = heat["records_per_payment"][PUBLISHER] / heat["records_per_batch"][PUBLISHER]
    return float(records) * aws_seconds(heat, PUBLISHER)


def endpoint_key_reads() -> float:
    """Reads a second of one merchant's endpoints key, whatever its rate: every delivery
    instance (a prod stage's fast and slow lanes) reads it once per endpoint_read_seconds,
    every publisher instance once per endpoint_list_seconds."""
    delivery = PROD_WEBHOOK_INSTANCES + SLOW_DELIVERIES_SOURCE.max_concurrency
    return round(
        delivery / int(default_of("endpoint_read_seconds"))
        + DEFAULT_PUBLISHER_CONCURRENCY / int(default_of("endpoint_list_seconds")),
        1,
    )


def stream_shards() -> int:
    """The payments stream's shards at a prod stage's start: one per partition, and its
    warm write throughput makes a partition per 1,000 write units at least."""
    return WARM_THROUGHPUT["payments"][1] // PARTITION_WRITE_UNITS


def lambda_seconds_per_payment(heat: dict[str, Any], bank_latency: float) -> float:
    """Lambda instance-seconds per payment, every function: API calls by their times on
    AWS, the worker's and the delivery worker's batch time shared by its records, the
    publisher's batches."""
    api = sum(
        aws_seconds(heat, name) * heat["invocations_per_payment"][name]
        for name in heat["invocation_ms"]
        if name not in BACKGROUND
    )
    batches = heat["records_per_batch"]
    return float(
        api
        + worker_seconds_per_payment(heat, bank_latency) / batches[WORKER]
        + delivery_seconds_per_payment(heat) / batches[DELIVERY]
        + publisher_seconds_per_payment(heat)
    )


def api_calls_per_payment(heat: dict[str, Any]) -> float:
    calls = heat["invocations_per_payment"]
    return float(sum(count for name, count in calls.items() if name not in BACKGROUND))


def limits(heat: dict[str, Any], bank_latency: float = MODEL_BANK_LATENCY) -> list[Limit]:
    requests = heat["requests_per_payment"]
    api_calls = api_calls_per_payment(heat)
    kms = sum(count for name, count in requests.items() if name.startswith("kms:"))
    in_flight_seconds = worker_seconds_per_payment(heat, bank_latency)
    return [
        *_dynamodb_limits(heat),
        Limit(
            "Lambda concurrency, all functions (account, per Region)",
            LAMBDA_ACCOUNT_CONCURRENCY,
            "instances",
            LAMBDA_QUOTAS,
            round(lambda_seconds_per_payment(heat, bank_latency), 4),
            raised=RAISED_LAMBDA_CONCURRENCY,
        ),
        Limit(
            f"Bank calls in flight: worker instances x payments each (bankMaxConcurrency "
            f"{DEFAULT_BANK_MAX_CONCURRENCY:,}; bank answering in {bank_latency:g} s)",
            DEFAULT_BANK_MAX_CONCURRENCY,
            "calls",
            OURS,
            round(in_flight_seconds, 3),
        ),
        Limit(
            "API Gateway requests (account, per Region)",
            API_ACCOUNT_RPS,
            "requests/s",
            API_QUOTAS,
            api_calls,
            raised=RAISED_API_ACCOUNT_RPS,
        ),
        Limit(
            "API Gateway stage throttle (apiRateLimit)",
            DEFAULT_API_RATE_LIMIT,
            "requests/s",
            OURS,
            api_calls,
        ),
        Limit(
            "API Gateway usage plan 'large', the 50% merchant's (largeMerchantRateLimit)",
            DEFAULT_LARGE_MERCHANT_RATE_LIMIT,
            "requests/s",
            OURS,
            api_calls * BIG_MERCHANT_SHARE,
        ),
        Limit(
            "KMS symmetric requests (us-east-1; Encrypt, GenerateMac, Decrypt): each instance's "
            "keys and endpoint secrets, counted here as if per payment",
            KMS_SYMMETRIC_RPS_US_EAST_1,
            "requests/s",
            KMS_QUOTAS,
            kms,
        ),
        Limit(
            "SQS in-flight messages (jobs queue)",
            SQS_IN_FLIGHT,
            "messages",
            SQS_QUOTAS,
            round(in_flight_seconds, 3),
        ),
        Limit(
            f"Webhook deliveries in flight: fast-lane instances x {DELIVERIES_SOURCE.batch_size} "
            f"(webhookInstances {PROD_WEBHOOK_INSTANCES} in prod; every merchant's endpoint "
            f"answering in {ENDPOINT_LATENCY:g} s)",
            PROD_WEBHOOK_INSTANCES * DELIVERIES_SOURCE.batch_size,
            "deliveries",
            OURS,
            round(delivery_seconds_per_payment(heat), 3),
        ),
        Limit(
            f"Event publisher: stream shards x parallelization factor "
            f"({stream_shards()} x {PAYMENTS_STREAM_SOURCE.parallelization_factor} batches at "
            f"once, {EVENT_PUBLISHER.memory_mb} MB)",
            stream_shards() * PAYMENTS_STREAM_SOURCE.parallelization_factor,
            "batches",
            STREAMS,
            round(publisher_seconds_per_payment(heat), 5),
        ),
        Limit(
            "Event publisher: reserved concurrency (publisherConcurrency)",
            DEFAULT_PUBLISHER_CONCURRENCY,
            "instances",
            OURS,
            round(publisher_seconds_per_payment(heat), 5),
        ),
        *_new_table_limits(heat),
    ]


def _new_table_limits(heat: dict[str, Any], rate: int = 5000) -> list[Limit]:
    """What a prod stage's tables and indexes serve from their first second (their warm
    throughput); a table without it (a dev stage's) starts at NEW_TABLE_UNITS and grows."""
    limits = []
    for kind, position in (("writes", 1), ("reads", 0)):
        for target, row in heat[kind].items():
            if row["units_per_payment"] * rate <= NEW_TABLE_UNITS[kind]:
                continue
            warm = WARM_THROUGHPUT.get(target)
            limits.append(
                Limit(
                    f"DynamoDB {target}: {kind} from the first second (warm throughput in "
                    f"prod; without it {NEW_TABLE_UNITS[kind]:,})",
                    warm[position] if warm else NEW_TABLE_UNITS[kind],
                    "RCU/s" if kind == "reads" else "WCU/s",
                    NEW_TABLES,
                    row["units_per_payment"],
                )
            )
    return limits


def worker_by_latency(heat: dict[str, Any], rate: int) -> list[dict[str, Any]]:
    """The worker's ceiling at each bank latency: the bank bound (bankMaxConcurrency) over
    how long each payment holds a call, and the instances that takes."""
    per_instance = int(heat["settings"]["worker_concurrency"])
    instances = min(EVENT_SOURCE_MAX_CONCURRENCY, DEFAULT_BANK_MAX_CONCURRENCY // per_instance)
    rows = []
    for latency in BANK_LATENCIES:
        hold = worker_seconds_per_payment(heat, latency)
        rows.append(
            {
                "bank_latency_seconds": latency,
                "seconds_per_payment": round(hold, 3),
                "worker_instances": instances,
                "ceiling": int(instances * per_instance / hold),
                "bank_calls_needed": int(rate * hold),
            }
        )
    return rows


def step_to(rate: float, per_instance: float, most: int) -> dict[str, Any]:
    """Lambda's SQS event source meeting a step from nothing to `rate` jobs a second: its
    instances grow from SQS_START_INSTANCES by SQS_INSTANCES_PER_MINUTE up to `most`, each
    taking `per_instance` a second; the backlog they leave, and when it is gone."""
    backlog = peak = 0.0
    reached = drained = None
    for second in range(1, 6 * 3600):
        instances = min(most, SQS_START_INSTANCES + SQS_INSTANCES_PER_MINUTE * second / 60)
        capacity = instances * per_instance
        backlog = max(0.0, backlog + rate - capacity)
        peak = max(peak, backlog)
        if reached is None and capacity >= rate:
            reached = second
        if reached is not None and backlog == 0:
            drained = second
            break
    return {
        "rate": rate,
        "instances_needed": math.ceil(rate / per_instance),
        "instances_at_most": most,
        "seconds_to_reach_rate": reached,
        "backlog_peak": int(peak),
        "longest_wait_seconds": round(peak / (most * per_instance), 1),
        "seconds_to_drain": drained,
    }


def sqs_ramps(heat: dict[str, Any], rate: int) -> dict[str, Any]:
    """A step to `rate` payments a second: the worker's event source (each instance takes
    its batch at once, the bank answering in MODEL_BANK_LATENCY) and the fast lane of
    deliveries (a prod stage's instances)."""
    concurrency = int(heat["settings"]["worker_concurrency"])
    per_worker = concurrency / worker_seconds_per_payment(heat, MODEL_BANK_LATENCY)
    worker_most = min(EVENT_SOURCE_MAX_CONCURRENCY, DEFAULT_BANK_MAX_CONCURRENCY // concurrency)
    per_delivery = DELIVERIES_SOURCE.batch_size / delivery_seconds_per_payment(heat)
    return {
        "worker": step_to(rate, per_worker, worker_most),
        "worker_bank_max_10000": step_to(rate, per_worker, EVENT_SOURCE_MAX_CONCURRENCY),
        "webhook_deliveries": step_to(rate, per_delivery, PROD_WEBHOOK_INSTANCES),
        "source": SQS_SCALING,
    }


def model(heat: dict[str, Any], rate: int = 5000) -> dict[str, Any]:
    rows = [limit.row(rate) for limit in limits(heat)]
    growing = [row for row in rows if row["ceiling"] is not None]
    binding = min(growing, key=lambda row: row["ceiling"])
    binding_raised = min(growing, key=lambda row: row["ceiling_raised"] or row["ceiling"])
    keys = [row for row in rows if row["name"].startswith("DynamoDB") and "hottest" in row["name"]]
    return {
        "rate": rate,
        "bank_latency_seconds": MODEL_BANK_LATENCY,
        "limits": rows,
        "binding_default": binding["name"],
        "ceiling_default": binding["ceiling"],
        "binding_raised": binding_raised["name"],
        "ceiling_raised": binding_raised["ceiling_raised"] or binding_raised["ceiling"],
        "hottest_key_percent_at_rate": max(row["percent_at_rate"] for row in keys),
        "worker_by_bank_latency": worker_by_latency(heat, rate),
        "standard_plan_payments_per_merchant": MERCHANT_RATE_LIMIT / api_calls_per_payment(heat),
        "webhook_delivery_instances": webhook_lanes(),
        "concurrency_budget": concurrency_budget(),
        "step_to_rate": sqs_ramps(heat, rate),
        "function_seconds_on_aws": {
            name: {"memory_mb": memory_of(name), "seconds": round(aws_seconds(heat, name), 4)}
            for name in sorted(heat["cpu_ms"])
        },
        "endpoint_key_reads_per_second": endpoint_key_reads(),
        "assumed": {
            "endpoint_latency_seconds": ENDPOINT_LATENCY,
            "request_seconds": REQUEST_SECONDS,
            "vcpu_mb": VCPU_MB,
            "stream_shards": stream_shards(),
        },
    }


def concurrency_budget() -> dict[str, Any]:
    """Each part's most instances at once, by design, against a raised prod account's
    Lambda concurrency: the same Scaling a prod stack is synthesized with (its synth fails
    if they do not fit)."""
    scaling = Scaling(
        worker_concurrency=int(default_of("worker_concurrency")),
        bank_max_concurrency=DEFAULT_BANK_MAX_CONCURRENCY,
        in_flight_shards=int(default_of("in_flight_shards")),
        merchant_buckets=int(default_of("merchant_buckets")),
        webhook_instances=PROD_WEBHOOK_INSTANCES,
    )
    budget = scaling.concurrency_budget()
    return {
        "instances": budget,
        "total": sum(budget.values()),
        "account_concurrency": scaling.account_concurrency,
        "usable": scaling.usable_concurrency,
    }


def webhook_lanes() -> dict[str, int]:
    """A prod stage's delivery instances in each lane (event source maximum concurrency) and
    the HTTP calls they have in flight at most (an instance sends its batch at once): what
    webhooks take of the account's Lambda concurrency, however slow the endpoints."""
    lanes = {
        "fast": (PROD_WEBHOOK_INSTANCES, DELIVERIES_SOURCE.batch_size),
        "slow": (SLOW_DELIVERIES_SOURCE.max_concurrency, SLOW_DELIVERIES_SOURCE.batch_size),
    }
    return {
        **{f"{name}_instances": most for name, (most, _) in lanes.items()},
        **{f"{name}_calls": most * batch for name, (most, batch) in lanes.items()},
        # One merchant's fast-lane calls waiting past the patience, across every instance.
        "fast_slow_sends_per_merchant": SLOW_SENDS_PER_MERCHANT,
        "fast_patience_ms": round(FAST_LANE_PATIENCE_SECONDS * 1000),
    }
