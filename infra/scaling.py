"""How far a deployment scales, set from CDK context (`npx cdk deploy -c name=value`, or
the "context" of cdk.json); bench/RESULTS.md's capacity model says what each one buys.

- workerConcurrency: payments one worker instance takes at once (its SQS batch size, and
  the threads that process the batch);
- bankMaxConcurrency: the most calls to the bank in flight at once, from every worker
  together: the worker's event source runs at most bankMaxConcurrency / workerConcurrency
  instances (Lambda allows 2 to 1,000). Set it to what the bank (acquirer) accepts;
- inFlightShards, merchantBuckets: the spread of the payments indexes (core/settings.py);
- apiRateLimit, apiBurstLimit: the API stage's throttle, all merchants together (requests
  per second; AWS's account quota, 10,000 by default, caps it too);
- largeMerchantRateLimit: the throttle of the large-merchant usage plan (requests per
  second per merchant), for merchants the standard plan (50/s) would hold back;
- webhookInstances, slowWebhookInstances: the delivery worker's instances at most in the
  fast and the slow lane (their event sources' maximum concurrency);
- publisherConcurrency: the event publisher's reserved concurrency (at least the payments
  stream's shards times its parallelization factor: that many batches run at once);
- accountConcurrency: the account's Lambda concurrency in the Region (the stage's default:
  AWS's 1,000 for dev, 3,000 raised for prod). Every function's maximum together, with the
  API's share at its rate limit, must fit in it, or the synth fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from constructs import Node

from core.resources import DELIVERIES_SOURCE, SLOW_DELIVERIES_SOURCE, EnvVar
from core.settings import SettingsError, tunable

WORKER_CONCURRENCY = "workerConcurrency"
BANK_MAX_CONCURRENCY = "bankMaxConcurrency"
IN_FLIGHT_SHARDS = "inFlightShards"
MERCHANT_BUCKETS = "merchantBuckets"
API_RATE_LIMIT = "apiRateLimit"
API_BURST_LIMIT = "apiBurstLimit"
LARGE_MERCHANT_RATE_LIMIT = "largeMerchantRateLimit"
WEBHOOK_INSTANCES = "webhookInstances"
SLOW_WEBHOOK_INSTANCES = "slowWebhookInstances"
PUBLISHER_CONCURRENCY = "publisherConcurrency"
ACCOUNT_CONCURRENCY = "accountConcurrency"
# Not scaling, but read the same way: the account's monthly cost the budget alarm is set at.
MONTHLY_BUDGET_USD = "monthlyBudgetUsd"
DEFAULT_MONTHLY_BUDGET_USD = 1000
# Sized by the capacity model: 5,000 payments/s with the bank answering in 1 s (a payment
# then holds a worker slot about 1.16 s) needs about 5,800 calls in flight; 20% to spare.
DEFAULT_BANK_MAX_CONCURRENCY = 7000
# A prod stage's (infra/stages.py; a dev stage's are low): 5,000 payments/s make about
# 20,000 API requests/s (4 a payment), with 25% to spare; the burst is AWS's default
# account burst.
DEFAULT_API_RATE_LIMIT = 25_000
DEFAULT_API_BURST_LIMIT = 5000
# A merchant sending half of 5,000 payments/s makes about 10,000 requests/s.
DEFAULT_LARGE_MERCHANT_RATE_LIMIT = 12_500
# Lambda's bounds on an SQS event source's maximum concurrency.
EVENT_SOURCE_MIN_CONCURRENCY = 2
EVENT_SOURCE_MAX_CONCURRENCY = 1000
# What docs/sizing.md asks a prod account to raise Lambda's concurrency to (AWS: 1,000).
RAISED_ACCOUNT_CONCURRENCY = 3000
# The payments stream of a table taking 5,000 payments/s has 20 shards or more (a shard a
# partition; its warm throughput makes 20), each read 3 batches at once: 60 to start, room
# for 33 shards.
DEFAULT_PUBLISHER_CONCURRENCY = 100
# A prod stage's fast-lane delivery instances: 5,000 payments/s with every merchant's one
# endpoint answering in 0.3 s hold about 4,300 deliveries in flight (bench/RESULTS.md, the
# capacity model), 10 an instance; a dev stage keeps the lane's own maximum (20).
PROD_WEBHOOK_INSTANCES = 500
# What a prod stage's tables and indexes serve from their first second (DynamoDB warm
# throughput: a new on-demand table serves 4,000 writes and 12,000 reads a second until it
# has scaled): the units the capacity model measures per payment at 5,000 payments/s, with
# about 20% to spare. (read units, write units) per table or "table.index".
WARM_THROUGHPUT: dict[str, tuple[int, int]] = {
    "payments": (20_000, 20_000),
    "payments.byMerchantBucket": (12_000, 20_000),
    "payments.inFlight": (12_000, 15_000),
    "idempotency": (12_000, 15_000),
    "webhook-events": (15_000, 28_000),
    "webhook-events.byDay": (12_000, 15_000),
}
# The reconciler never overlaps itself (its runs are paged and resumable, not parallel).
RECONCILER_CONCURRENCY = 1
# What an API request holds an instance for, conservatively: 4x the mean measured on moto
# (bench/results.json, partition_heat: 12 ms), for real AWS round trips.
API_SECONDS_PER_REQUEST = 0.05
# Of the account's concurrency, kept free beyond every maximum: cold starts, deploys'
# canaries (two versions at once), the rollout check, the CLI's and ops' own invocations.
SPARE_SHARE = 0.1


@dataclass(frozen=True)
class Scaling:
    worker_concurrency: int
    bank_max_concurrency: int
    in_flight_shards: int
    merchant_buckets: int
    api_rate_limit: int = DEFAULT_API_RATE_LIMIT
    api_burst_limit: int = DEFAULT_API_BURST_LIMIT
    large_merchant_rate_limit: int = DEFAULT_LARGE_MERCHANT_RATE_LIMIT
    webhook_instances: int = DELIVERIES_SOURCE.max_concurrency
    slow_webhook_instances: int = SLOW_DELIVERIES_SOURCE.max_concurrency
    publisher_concurrency: int = DEFAULT_PUBLISHER_CONCURRENCY
    account_concurrency: int = RAISED_ACCOUNT_CONCURRENCY

    @classmethod
    def from_context(
        cls,
        node: Node,
        api_limits: tuple[int, int] = (DEFAULT_API_RATE_LIMIT, DEFAULT_API_BURST_LIMIT),
        account_concurrency: int = RAISED_ACCOUNT_CONCURRENCY,
        webhook_instances: int = DELIVERIES_SOURCE.max_concurrency,
    ) -> Scaling:
        """`api_limits`: the stage's throttle (rate, burst) unless context sets them;
        `account_concurrency` and `webhook_instances` likewise."""

        def whole(name: str, default: int) -> int:
            return context_whole(node, name, default)

        def setting(field: str, name: str) -> int:
            return int(tunable(field, node.try_get_context(name)))

        scaling = cls(
            worker_concurrency=setting("worker_concurrency", WORKER_CONCURRENCY),
            bank_max_concurrency=whole(BANK_MAX_CONCURRENCY, DEFAULT_BANK_MAX_CONCURRENCY),
            in_flight_shards=setting("in_flight_shards", IN_FLIGHT_SHARDS),
            merchant_buckets=setting("merchant_buckets", MERCHANT_BUCKETS),
            api_rate_limit=whole(API_RATE_LIMIT, api_limits[0]),
            api_burst_limit=whole(API_BURST_LIMIT, api_limits[1]),
            large_merchant_rate_limit=whole(
                LARGE_MERCHANT_RATE_LIMIT, DEFAULT_LARGE_MERCHANT_RATE_LIMIT
            ),
            webhook_instances=whole(WEBHOOK_INSTANCES, webhook_instances),
            slow_webhook_instances=whole(
                SLOW_WEBHOOK_INSTANCES, SLOW_DELIVERIES_SOURCE.max_concurrency
            ),
            publisher_concurrency=whole(PUBLISHER_CONCURRENCY, DEFAULT_PUBLISHER_CONCURRENCY),
            account_concurrency=whole(ACCOUNT_CONCURRENCY, account_concurrency),
        )
        for name, instances in (
            (WEBHOOK_INSTANCES, scaling.webhook_instances),
            (SLOW_WEBHOOK_INSTANCES, scaling.slow_webhook_instances),
        ):
            if not EVENT_SOURCE_MIN_CONCURRENCY <= instances <= EVENT_SOURCE_MAX_CONCURRENCY:
                raise SettingsError(
                    f"{name} must be {EVENT_SOURCE_MIN_CONCURRENCY} to "
                    f"{EVENT_SOURCE_MAX_CONCURRENCY} (an event source's maximum concurrency)"
                )
        budget = scaling.concurrency_budget()
        needed, available = sum(budget.values()), scaling.usable_concurrency
        if needed > available:
            raise SettingsError(
                f"the functions' maxima and the API at its rate limit need {needed:,} "
                f"concurrent instances, more than the {available:,} of {ACCOUNT_CONCURRENCY} "
                f"{scaling.account_concurrency:,} (less {SPARE_SHARE:.0%} spare): raise "
                f"the account's quota and {ACCOUNT_CONCURRENCY}, or lower the others "
                f"({', '.join(f'{k} {v:,}' for k, v in budget.items())})"
            )
        floor = EVENT_SOURCE_MIN_CONCURRENCY * scaling.worker_concurrency
        if scaling.bank_max_concurrency < floor:
            raise SettingsError(
                f"{BANK_MAX_CONCURRENCY} must be at least {floor} "
                f"({EVENT_SOURCE_MIN_CONCURRENCY} worker instances of {WORKER_CONCURRENCY})"
            )
        return scaling

    @property
    def worker_instances(self) -> int:
        """The worker event source's maximum concurrency."""
        instances = self.bank_max_concurrency // self.worker_concurrency
        return min(EVENT_SOURCE_MAX_CONCURRENCY, instances)

    def concurrency_budget(self) -> dict[str, int]:
        """The most instances each part of paygate can run at once: the bound each function
        has by design (an event source's maximum, a reserved concurrency), and the API's
        at its stage throttle, all merchants together."""
        return {
            "worker": self.worker_instances,
            "webhook deliveries": self.webhook_instances + self.slow_webhook_instances,
            "event publisher": self.publisher_concurrency,
            "reconciler": RECONCILER_CONCURRENCY,
            "API at its rate limit": math.ceil(self.api_rate_limit * API_SECONDS_PER_REQUEST),
        }

    @property
    def usable_concurrency(self) -> int:
        return int(self.account_concurrency * (1 - SPARE_SHARE))

    def environment(self) -> dict[str, str]:
        return {
            EnvVar.WORKER_CONCURRENCY: str(self.worker_concurrency),
            EnvVar.WORKER_INSTANCES: str(self.worker_instances),
            EnvVar.IN_FLIGHT_SHARDS: str(self.in_flight_shards),
            EnvVar.MERCHANT_BUCKETS: str(self.merchant_buckets),
        }


def context_whole(node: Node, name: str, default: int) -> int:
    """A positive whole number from CDK context, or `default` when not given."""
    raw = node.try_get_context(name)
    if raw is None:
        return default
    try:
        value = int(str(raw))
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{name} must be a positive whole number, not {raw!r}")
    return value
