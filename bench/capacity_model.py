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

from dataclasses import asdict, dataclass
from typing import Any

from bench.partition_heat import BIG_MERCHANT_SHARE, PARTITION_READ_UNITS, PARTITION_WRITE_UNITS
from core.domain.webhook_retry import FAST_LANE_PATIENCE_SECONDS, SLOW_SENDS_PER_MERCHANT
from core.resources import DELIVERIES_SOURCE, SLOW_DELIVERIES_SOURCE
from core.settings import default_of
from infra.api import MERCHANT_RATE_LIMIT
from infra.scaling import (
    DEFAULT_API_RATE_LIMIT,
    DEFAULT_BANK_MAX_CONCURRENCY,
    DEFAULT_LARGE_MERCHANT_RATE_LIMIT,
    EVENT_SOURCE_MAX_CONCURRENCY,
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
    per_job = bank_latency + float(heat["invocation_ms"]["worker"]) / 1000
    return float(heat["worker_jobs_per_payment"]) * per_job


def lambda_seconds_per_payment(heat: dict[str, Any], bank_latency: float) -> float:
    """Lambda instance-seconds per payment, every function: API calls by their measured
    times, the worker's batch time shared by the records of its batch."""
    api = sum(
        heat["invocation_ms"][name] / 1000 * heat["invocations_per_payment"][name]
        for name in heat["invocation_ms"]
        if name != "worker"
    )
    per_batch = float(heat["records_per_worker_batch"])
    return float(api) + worker_seconds_per_payment(heat, bank_latency) / per_batch


def api_calls_per_payment(heat: dict[str, Any]) -> float:
    calls = heat["invocations_per_payment"]
    return float(sum(count for name, count in calls.items() if name != "worker"))


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
            "KMS symmetric requests (us-east-1; Encrypt, GenerateMac, Decrypt)",
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
    ]


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
    )
    budget = scaling.concurrency_budget()
    return {
        "instances": budget,
        "total": sum(budget.values()),
        "account_concurrency": scaling.account_concurrency,
        "usable": scaling.usable_concurrency,
    }


def webhook_lanes() -> dict[str, int]:
    """The delivery worker's instances in each lane (event source maximum concurrency) and
    the HTTP calls they have in flight at most (an instance sends its batch at once): what
    webhooks take of the account's Lambda concurrency, however slow the endpoints."""
    lanes = {"fast": DELIVERIES_SOURCE, "slow": SLOW_DELIVERIES_SOURCE}
    return {
        **{f"{name}_instances": lane.max_concurrency for name, lane in lanes.items()},
        **{f"{name}_calls": lane.max_concurrency * lane.batch_size for name, lane in lanes.items()},
        # One merchant's fast-lane calls waiting past the patience, across every instance.
        "fast_slow_sends_per_merchant": SLOW_SENDS_PER_MERCHANT,
        "fast_patience_ms": round(FAST_LANE_PATIENCE_SECONDS * 1000),
    }
