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
  second per merchant), for merchants the standard plan (50/s) would hold back.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Node

from core.resources import EnvVar
from core.settings import SettingsError, tunable

WORKER_CONCURRENCY = "workerConcurrency"
BANK_MAX_CONCURRENCY = "bankMaxConcurrency"
IN_FLIGHT_SHARDS = "inFlightShards"
MERCHANT_BUCKETS = "merchantBuckets"
API_RATE_LIMIT = "apiRateLimit"
API_BURST_LIMIT = "apiBurstLimit"
LARGE_MERCHANT_RATE_LIMIT = "largeMerchantRateLimit"
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


@dataclass(frozen=True)
class Scaling:
    worker_concurrency: int
    bank_max_concurrency: int
    in_flight_shards: int
    merchant_buckets: int
    api_rate_limit: int = DEFAULT_API_RATE_LIMIT
    api_burst_limit: int = DEFAULT_API_BURST_LIMIT
    large_merchant_rate_limit: int = DEFAULT_LARGE_MERCHANT_RATE_LIMIT

    @classmethod
    def from_context(
        cls,
        node: Node,
        api_limits: tuple[int, int] = (DEFAULT_API_RATE_LIMIT, DEFAULT_API_BURST_LIMIT),
    ) -> Scaling:
        """`api_limits`: the stage's throttle (rate, burst) unless context sets them."""

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
