"""The one definition of paygate's AWS resources: names, keys and indexes.

The CDK stack (infra/) and the local stack (cli/) both build their tables, queues and
key from here, and the Lambdas find them through the environment variables named here,
so the three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

AttributeType = Literal["S", "N", "B"]


# The local stack's API port (`make run PORT=...` to change it).
LOCAL_API_PORT = 8420


class EnvVar(StrEnum):
    """Environment variables through which every Lambda receives its configuration."""

    PAYMENTS_TABLE = "PAYGATE_PAYMENTS_TABLE"
    MERCHANTS_TABLE = "PAYGATE_MERCHANTS_TABLE"
    BANK_LEDGER_TABLE = "PAYGATE_BANK_LEDGER_TABLE"
    BANK_CONTROL_TABLE = "PAYGATE_BANK_CONTROL_TABLE"
    IDEMPOTENCY_TABLE = "PAYGATE_IDEMPOTENCY_TABLE"
    JOBS_QUEUE_URL = "PAYGATE_JOBS_QUEUE_URL"
    CARD_KEY_ID = "PAYGATE_CARD_KEY_ID"
    CARD_DIGEST_KEY_ID = "PAYGATE_CARD_DIGEST_KEY_ID"
    CARD_KEYS_TABLE = "PAYGATE_CARD_KEYS_TABLE"
    CARD_FORMAT = "PAYGATE_CARD_FORMAT"
    CURSOR_KEY_ID = "PAYGATE_CURSOR_KEY_ID"
    IDEMPOTENCY_DIGEST_KEY_ID = "PAYGATE_IDEMPOTENCY_DIGEST_KEY_ID"
    EVENTS_TABLE = "PAYGATE_EVENTS_TABLE"
    WEBHOOK_ENDPOINTS_TABLE = "PAYGATE_WEBHOOK_ENDPOINTS_TABLE"
    DELIVERIES_QUEUE_URL = "PAYGATE_DELIVERIES_QUEUE_URL"
    DELIVERIES_DLQ_URL = "PAYGATE_DELIVERIES_DLQ_URL"
    SLOW_DELIVERIES_QUEUE_URL = "PAYGATE_SLOW_DELIVERIES_QUEUE_URL"
    WEBHOOK_SECRET_KEY_ID = "PAYGATE_WEBHOOK_SECRET_KEY_ID"  # noqa: S105 (a variable name)
    WEBHOOKS_ALLOW_LOOPBACK = "PAYGATE_WEBHOOKS_ALLOW_LOOPBACK"
    ENDPOINT_LIST_SECONDS = "PAYGATE_ENDPOINT_LIST_SECONDS"
    ENDPOINT_READ_SECONDS = "PAYGATE_ENDPOINT_READ_SECONDS"
    AWS_REGION = "AWS_REGION"
    AWS_ENDPOINT_URL = "PAYGATE_AWS_ENDPOINT_URL"
    PAYMENT_TTL_SECONDS = "PAYGATE_PAYMENT_TTL_SECONDS"
    BANK_TIMEOUT_SECONDS = "PAYGATE_BANK_TIMEOUT_SECONDS"
    BANK_MAX_ATTEMPTS = "PAYGATE_BANK_MAX_ATTEMPTS"
    BANK_RETRY_INITIAL_SECONDS = "PAYGATE_BANK_RETRY_INITIAL_SECONDS"
    BANK_RETRY_MAX_SECONDS = "PAYGATE_BANK_RETRY_MAX_SECONDS"
    RECHECK_BASE_SECONDS = "PAYGATE_RECHECK_BASE_SECONDS"
    RECHECK_CAP_SECONDS = "PAYGATE_RECHECK_CAP_SECONDS"
    RECONCILE_AFTER_SECONDS = "PAYGATE_RECONCILE_AFTER_SECONDS"
    RECONCILE_MAX_ATTEMPTS = "PAYGATE_RECONCILE_MAX_ATTEMPTS"
    RESOLVE_AFTER_SECONDS = "PAYGATE_RESOLVE_AFTER_SECONDS"
    RECONCILE_EVERY_SECONDS = "PAYGATE_RECONCILE_EVERY_SECONDS"
    WORKER_CONCURRENCY = "PAYGATE_WORKER_CONCURRENCY"
    WORKER_INSTANCES = "PAYGATE_WORKER_INSTANCES"
    IN_FLIGHT_SHARDS = "PAYGATE_IN_FLIGHT_SHARDS"
    MERCHANT_BUCKETS = "PAYGATE_MERCHANT_BUCKETS"
    RECONCILE_CONCURRENCY = "PAYGATE_RECONCILE_CONCURRENCY"
    # The new version a rollout check runs (workers/rollout_check.py): its hook alone.
    ROLLOUT_CHECK_TARGET = "PAYGATE_ROLLOUT_CHECK_TARGET"


# The settings that name resources (not tunables): what provisioning or a stack provides.
RESOURCE_ENV_VARS = frozenset(
    {
        EnvVar.PAYMENTS_TABLE,
        EnvVar.MERCHANTS_TABLE,
        EnvVar.BANK_LEDGER_TABLE,
        EnvVar.BANK_CONTROL_TABLE,
        EnvVar.IDEMPOTENCY_TABLE,
        EnvVar.JOBS_QUEUE_URL,
        EnvVar.CARD_KEY_ID,
        EnvVar.CARD_DIGEST_KEY_ID,
        EnvVar.CARD_KEYS_TABLE,
        EnvVar.CURSOR_KEY_ID,
        EnvVar.IDEMPOTENCY_DIGEST_KEY_ID,
        EnvVar.EVENTS_TABLE,
        EnvVar.WEBHOOK_ENDPOINTS_TABLE,
        EnvVar.DELIVERIES_QUEUE_URL,
        EnvVar.DELIVERIES_DLQ_URL,
        EnvVar.SLOW_DELIVERIES_QUEUE_URL,
        EnvVar.WEBHOOK_SECRET_KEY_ID,
        EnvVar.AWS_REGION,
        EnvVar.AWS_ENDPOINT_URL,
    }
)


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: AttributeType


# Powertools' service name and metrics namespace: the runtime logs and emits under them, the
# stack sets them on every function and alarms on them.
SERVICE = "paygate"
METRICS_NAMESPACE = "Paygate"
# Failures of a function's own making (not a passing AWS fault, not the bank's, not a bad
# message's), per function and executed version, under the names Lambda gives its own
# metrics these dimensions: what rolls a canary of a new version back (infra/monitoring.py).
OWN_FAILURES_METRIC = "OwnFailures"
FUNCTION_NAME_DIMENSION = "FunctionName"
EXECUTED_VERSION_DIMENSION = "ExecutedVersion"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    # What the index holds of each item besides the keys: these attributes (INCLUDE; none:
    # KEYS_ONLY), or None for the whole item (ALL).
    projected: tuple[str, ...] | None = None

    @property
    def projection_type(self) -> str:
        if self.projected is None:
            return "ALL"
        return "INCLUDE" if self.projected else "KEYS_ONLY"


@dataclass(frozen=True)
class TableSpec:
    logical_name: str
    partition_key: KeyAttribute
    ttl_attribute: str | None = None
    indexes: tuple[IndexSpec, ...] = ()
    sort_key: KeyAttribute | None = None
    # Its changes are streamed (new and old images): the payments table's, for events.
    streamed: bool = False

    def physical_name(self, prefix: str) -> str:
        return f"{prefix}-{self.logical_name}"


# Payments in flight (Processing or Pending) carry IN_FLIGHT_ATTRIBUTE, which makes the
# in-flight index sparse: the reconciler queries it and never scans the table. Its value is
# the payment's shard (a stable hash of its id over PAYGATE_IN_FLIGHT_SHARDS shards), so
# in-flight writes spread over that many index partitions instead of one; its sort key is
# when the reconciler must look at the payment next (core/domain/reconcile_policy.py).
IN_FLIGHT_ATTRIBUTE = "inFlight"
RECONCILE_AT_ATTRIBUTE = "reconcileAt"

# A merchant's payments are listed under one of its buckets (a stable hash of the payment
# id over PAYGATE_MERCHANT_BUCKETS), so one merchant's writes spread over that many index
# partitions; the sort key is creation time then payment id, one text that sorts exactly,
# so list-payments merges the buckets newest first (core/adapters/bucket_listing.py).
BY_MERCHANT_INDEX = IndexSpec(
    name="byMerchantBucket",
    partition_key=KeyAttribute("merchantBucket", "S"),
    sort_key=KeyAttribute("listKey", "S"),
    # What list-payments reads, and nothing else: never the card ciphertext, and a write
    # that changes none of these (failure notes, reconciler marks, the card's erasure)
    # costs the index nothing.
    projected=(
        "merchantId",
        "createdAt",
        "status",
        "version",
        "updatedAt",
        "expiresAt",
        "amount",
        "currency",
        "expiryYear",
        "expiryMonth",
        "cardName",
        "billingAddress",
        "cardLastFour",
        "requestDigest",
        "failCode",
        "failReason",
    ),
)
IN_FLIGHT_INDEX = IndexSpec(
    name="inFlight",
    partition_key=KeyAttribute(IN_FLIGHT_ATTRIBUTE, "S"),
    sort_key=KeyAttribute(RECONCILE_AT_ATTRIBUTE, "N"),
    # The reconciler reads each payment itself (consistently).
    projected=(),
)

PAYMENTS_TABLE = TableSpec(
    logical_name="payments",
    partition_key=KeyAttribute("paymentId", "S"),
    ttl_attribute="expiresAt",
    indexes=(BY_MERCHANT_INDEX, IN_FLIGHT_INDEX),
    # The transactional outbox: every status change becomes a webhook event from here.
    streamed=True,
)
MERCHANTS_TABLE = TableSpec(
    logical_name="merchants",
    partition_key=KeyAttribute("apiKeyDigest", "S"),
)
BANK_LEDGER_TABLE = TableSpec(
    logical_name="bank-ledger",
    partition_key=KeyAttribute("idempotencyKey", "S"),
)
BANK_CONTROL_TABLE = TableSpec(
    logical_name="bank-control",
    partition_key=KeyAttribute("setting", "S"),
)

IDEMPOTENCY_TABLE = TableSpec(
    logical_name="idempotency",
    partition_key=KeyAttribute("scope", "S"),
    ttl_attribute="expiresAt",
)

# A payment's events (entry "v#<version>") and each one's delivery to each endpoint
# (entry "v#<version>#d#<endpointId>", with every attempt), oldest first. Events carry a
# day-and-shard key, so `webhooks replay --since` queries a sparse index, never a scan.
EVENTS_BY_DAY_INDEX = IndexSpec(
    name="byDay",
    partition_key=KeyAttribute("eventDay", "S"),
    sort_key=KeyAttribute("created", "N"),
    projected=(),
)
EVENTS_TABLE = TableSpec(
    logical_name="webhook-events",
    partition_key=KeyAttribute("paymentId", "S"),
    sort_key=KeyAttribute("entry", "S"),
    ttl_attribute="expiresAt",
    indexes=(EVENTS_BY_DAY_INDEX,),
)
# The card key pairs, one item per epoch (core/domain/card_keys.py), gone by TTL once no
# card can still be encrypted to them.
CARD_KEYS_TABLE = TableSpec(
    logical_name="card-keys",
    partition_key=KeyAttribute("epoch", "S"),
    ttl_attribute="expiresAt",
)
WEBHOOK_ENDPOINTS_TABLE = TableSpec(
    logical_name="webhook-endpoints",
    partition_key=KeyAttribute("merchantId", "S"),
    sort_key=KeyAttribute("endpointId", "S"),
)

ALL_TABLES = (
    PAYMENTS_TABLE,
    MERCHANTS_TABLE,
    BANK_LEDGER_TABLE,
    BANK_CONTROL_TABLE,
    IDEMPOTENCY_TABLE,
    EVENTS_TABLE,
    WEBHOOK_ENDPOINTS_TABLE,
    CARD_KEYS_TABLE,
)


@dataclass(frozen=True)
class QueueSpec:
    logical_name: str
    visibility_timeout_seconds: int
    retention_seconds: int

    def physical_name(self, prefix: str) -> str:
        return f"{prefix}-{self.logical_name}"


WORKER_TIMEOUT_SECONDS = 30
# SQS moves a job to the DLQ after this many receives that did not end in a delete.
MAX_RECEIVE_COUNT = 5

JOBS_QUEUE = QueueSpec(
    logical_name="payment-jobs",
    # AWS's guidance for Lambda event sources: at least 6x the function timeout.
    visibility_timeout_seconds=6 * WORKER_TIMEOUT_SECONDS,
    retention_seconds=4 * 24 * 3600,
)
JOBS_DLQ = QueueSpec(
    logical_name="payment-jobs-dlq",
    visibility_timeout_seconds=6 * WORKER_TIMEOUT_SECONDS,
    retention_seconds=14 * 24 * 3600,
)


# Webhook deliveries: one message per (event, endpoint) and attempt; a failed attempt is
# tried again by a new, delayed message (core/domain/webhook_retry.py), so these receives
# only absorb crashes and throttling before the DLQ. The delivery Lambda's own timeout (the
# HTTP time-out of one attempt is core/domain/webhook_retry.py's DELIVERY_TIMEOUT_SECONDS).
DELIVERY_FUNCTION_TIMEOUT_SECONDS = 60
DELIVERIES_QUEUE = QueueSpec(
    logical_name="webhook-deliveries",
    visibility_timeout_seconds=6 * DELIVERY_FUNCTION_TIMEOUT_SECONDS,
    retention_seconds=4 * 24 * 3600,
)
DELIVERIES_DLQ = QueueSpec(
    logical_name="webhook-deliveries-dlq",
    visibility_timeout_seconds=6 * DELIVERY_FUNCTION_TIMEOUT_SECONDS,
    retention_seconds=14 * 24 * 3600,
)
# The slow lane (core/use_cases/webhook_delivery.py): deliveries to endpoints that did not
# answer within the fast lane's time, with the same DLQ.
SLOW_DELIVERIES_QUEUE = QueueSpec(
    logical_name="webhook-deliveries-slow",
    visibility_timeout_seconds=6 * DELIVERY_FUNCTION_TIMEOUT_SECONDS,
    retention_seconds=4 * 24 * 3600,
)


@dataclass(frozen=True)
class QueueSourceSpec:
    """How Lambda feeds a queue to a function (its event source mapping): records per
    invocation, and at most how many invocations at once (Lambda allows 2 to 1,000). The
    CDK stack and the local stack's emulator both read it."""

    batch_size: int
    max_concurrency: int


# Each record is one HTTP call; the delivery worker sends a batch's at once. The fast lane
# answers in at most FAST_LANE_SECONDS per record, so its instances turn over quickly; the
# slow lane, where each may take the whole time-out, gets few, so however many slow
# endpoints there are they hold at most these.
DELIVERIES_SOURCE = QueueSourceSpec(batch_size=10, max_concurrency=20)
SLOW_DELIVERIES_SOURCE = QueueSourceSpec(batch_size=10, max_concurrency=2)


# Where the event source of the payments stream sends what it gave up on: not the records,
# a note of where they are (shard and sequence numbers), alarmed.
STREAM_FAILURES_QUEUE = QueueSpec(
    logical_name="event-stream-failures",
    visibility_timeout_seconds=30,
    retention_seconds=14 * 24 * 3600,
)


@dataclass(frozen=True)
class StreamSourceSpec:
    """How Lambda reads a table's stream into a function (its event source mapping): the CDK
    stack configures it from here and the local stack's emulator does the same."""

    batch_size: int
    # A failing batch is split in two until the failing record is alone (free of charge).
    bisect_batch_on_error: bool
    # Then it is retried this many times, and if it still fails, its position is sent to
    # `on_failure` and the shard moves on.
    retry_attempts: int
    on_failure: QueueSpec
    # Batches of one shard in flight at once (Lambda allows 1 to 10; a payment's records stay
    # in order, they share a key). A shard carries what its partition writes, up to about
    # 700 records a second: the capacity model sizes this from the publisher's measured
    # time per batch (bench/RESULTS.md). The local stack's emulator reads one at a time.
    parallelization_factor: int


PAYMENTS_STREAM_SOURCE = StreamSourceSpec(
    parallelization_factor=3,
    batch_size=100,
    bisect_batch_on_error=True,
    retry_attempts=5,
    on_failure=STREAM_FAILURES_QUEUE,
)


class StackOutput(StrEnum):
    """CloudFormation outputs of the CDK stack: what the paygate CLI reads to find it."""

    API_URL = "ApiUrl"
    JOBS_QUEUE_URL = "JobsQueueUrl"
    DLQ_URL = "DeadLetterQueueUrl"
    PAYMENTS_TABLE = "PaymentsTableName"
    MERCHANTS_TABLE = "MerchantsTableName"
    BANK_LEDGER_TABLE = "BankLedgerTableName"
    BANK_CONTROL_TABLE = "BankControlTableName"
    IDEMPOTENCY_TABLE = "IdempotencyTableName"
    CARD_KEY_ID = "CardKeyId"
    CARD_DIGEST_KEY_ID = "CardDigestKeyId"
    CARD_KEYS_TABLE = "CardKeysTableName"
    CURSOR_KEY_ID = "CursorKeyId"
    IDEMPOTENCY_DIGEST_KEY_ID = "IdempotencyDigestKeyId"
    USAGE_PLAN_ID = "UsagePlanId"
    LARGE_USAGE_PLAN_ID = "LargeUsagePlanId"
    ALARM_TOPIC_ARN = "AlarmTopicArn"
    EVENTS_TABLE = "EventsTableName"
    WEBHOOK_ENDPOINTS_TABLE = "WebhookEndpointsTableName"
    DELIVERIES_QUEUE_URL = "DeliveriesQueueUrl"
    DELIVERIES_DLQ_URL = "DeliveriesDeadLetterQueueUrl"
    SLOW_DELIVERIES_QUEUE_URL = "SlowDeliveriesQueueUrl"
    WEBHOOK_SECRET_KEY_ID = "WebhookSecretKeyId"  # noqa: S105 (an output name)


# API Gateway keeps an authorizer's policy this long per Authorization header value.
AUTHORIZER_CACHE_SECONDS = 300

CARD_KEY_ALIAS = "card-data"
# HMAC keys (KMS, GENERATE_VERIFY_MAC): the make-payment digest of the full card, and the
# signature of list cursors. Their key material never leaves KMS.
CARD_DIGEST_KEY_ALIAS = "card-digest"
CURSOR_KEY_ALIAS = "list-cursors"
IDEMPOTENCY_DIGEST_KEY_ALIAS = "idempotency-key-digest"
WEBHOOK_SECRET_KEY_ALIAS = "webhook-secrets"  # noqa: S105 (a key alias)
DEFAULT_PREFIX = "paygate"


def card_key_alias(prefix: str) -> str:
    return f"alias/{prefix}-{CARD_KEY_ALIAS}"


def key_alias(prefix: str, alias: str) -> str:
    return f"alias/{prefix}-{alias}"
