"""Configuration, read once from the environment into one typed, validated object.

A frozen dataclass rather than a pydantic model on purpose: every Lambda reads it at cold
start, and importing pydantic's BaseModel (~30 ms here) is a cost the worker, the
reconciler and the authorizer otherwise never pay (bench section 1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.resources import EnvVar


class SettingsError(ValueError):
    """The environment does not describe a usable configuration; says what is wrong."""


def _setting(
    env: EnvVar,
    default: Any = dataclasses.MISSING,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
) -> Any:
    bounds = {"env": env, "minimum": minimum, "above": above, "maximum": maximum}
    return field(default=default, metadata=bounds)


@dataclass(frozen=True)
class Settings:
    payments_table: str = _setting(EnvVar.PAYMENTS_TABLE)
    merchants_table: str = _setting(EnvVar.MERCHANTS_TABLE)
    bank_ledger_table: str = _setting(EnvVar.BANK_LEDGER_TABLE)
    bank_control_table: str = _setting(EnvVar.BANK_CONTROL_TABLE)
    idempotency_table: str = _setting(EnvVar.IDEMPOTENCY_TABLE)
    jobs_queue_url: str = _setting(EnvVar.JOBS_QUEUE_URL)
    card_key_id: str = _setting(EnvVar.CARD_KEY_ID)
    card_digest_key_id: str = _setting(EnvVar.CARD_DIGEST_KEY_ID)
    card_keys_table: str = _setting(EnvVar.CARD_KEYS_TABLE)
    cursor_key_id: str = _setting(EnvVar.CURSOR_KEY_ID)
    idempotency_digest_key_id: str = _setting(EnvVar.IDEMPOTENCY_DIGEST_KEY_ID)
    events_table: str = _setting(EnvVar.EVENTS_TABLE)
    webhook_endpoints_table: str = _setting(EnvVar.WEBHOOK_ENDPOINTS_TABLE)
    deliveries_queue_url: str = _setting(EnvVar.DELIVERIES_QUEUE_URL)
    deliveries_dlq_url: str = _setting(EnvVar.DELIVERIES_DLQ_URL)
    slow_deliveries_queue_url: str = _setting(EnvVar.SLOW_DELIVERIES_QUEUE_URL)
    webhook_secret_key_id: str = _setting(EnvVar.WEBHOOK_SECRET_KEY_ID)
    # What make-payment writes: 2, the card sealed to the day's key pair and the request
    # digest keyed per instance (no KMS request); 1, both by KMS per request, as releases
    # before 2026-12 wrote them. Both are always read. 1 is the first step of an upgrade
    # from such a release (docs/deploy.md, Upgrading): its versions read only format 1.
    card_format: int = _setting(EnvVar.CARD_FORMAT, 2, minimum=1, maximum=2)
    # Webhooks to loopback addresses over http: the local stack's `paygate listen` only.
    webhooks_allow_loopback: int = _setting(EnvVar.WEBHOOKS_ALLOW_LOOPBACK, 0, minimum=0, maximum=1)
    # How long the event publisher uses a merchant's endpoints as read, per instance: a new
    # endpoint receives the events made this long after its registration at the latest.
    endpoint_list_seconds: int = _setting(EnvVar.ENDPOINT_LIST_SECONDS, 60, minimum=0, maximum=300)
    # How long the delivery worker sends with an endpoint as read, per instance: a deletion,
    # a rotated secret or a slow mark reaches every instance within this long. Reading it
    # for every delivery made one busy merchant's endpoint a hot key.
    endpoint_read_seconds: int = _setting(EnvVar.ENDPOINT_READ_SECONDS, 5, minimum=0, maximum=60)
    aws_region: str = _setting(EnvVar.AWS_REGION, "us-east-1")
    # Set only for the local stack (moto server); None means the real AWS endpoints.
    aws_endpoint_url: str | None = _setting(EnvVar.AWS_ENDPOINT_URL, None)
    payment_ttl_seconds: int = _setting(EnvVar.PAYMENT_TTL_SECONDS, 600, above=0)
    # The bank: how long one call may take, and how the worker retries transient failures.
    bank_timeout_seconds: float = _setting(EnvVar.BANK_TIMEOUT_SECONDS, 3.0, above=0)
    bank_max_attempts: int = _setting(EnvVar.BANK_MAX_ATTEMPTS, 4, minimum=1)
    bank_retry_initial_seconds: float = _setting(EnvVar.BANK_RETRY_INITIAL_SECONDS, 0.2, minimum=0)
    bank_retry_max_seconds: float = _setting(EnvVar.BANK_RETRY_MAX_SECONDS, 2.0, minimum=0)
    # A Pending payment is checked again after base * 2**(checks - 1) seconds, at most cap.
    recheck_base_seconds: int = _setting(EnvVar.RECHECK_BASE_SECONDS, 5, minimum=0)
    recheck_cap_seconds: int = _setting(EnvVar.RECHECK_CAP_SECONDS, 900, minimum=0, maximum=900)
    # In flight with no progress for this long: the reconciler queues it again. Longer than
    # the re-check cap and than a job's whole redelivery window (receives x visibility).
    reconcile_after_seconds: int = _setting(EnvVar.RECONCILE_AFTER_SECONDS, 1200, above=0)
    reconcile_max_attempts: int = _setting(EnvVar.RECONCILE_MAX_ATTEMPTS, 3, minimum=1)
    # How often the reconciler runs (the CDK schedule; the local worker's loop).
    reconcile_every_seconds: int = _setting(
        EnvVar.RECONCILE_EVERY_SECONDS, 300, minimum=10, maximum=3600
    )
    # In flight this long after creation: settled with the bank (its outcome, or Failed
    # once voided) and no card data kept past it. Longer than the reconcile threshold.
    resolve_after_seconds: int = _setting(EnvVar.RESOLVE_AFTER_SECONDS, 24 * 3600, above=0)
    worker_concurrency: int = _setting(EnvVar.WORKER_CONCURRENCY, 10, minimum=1, maximum=64)
    # Worker instances taking jobs at once at most (the event source's maximum concurrency;
    # one for the local stack's worker): how fast a backlog drains at the slowest, which
    # tells the reconciler how long a job can wait in the queue without being lost.
    worker_instances: int = _setting(EnvVar.WORKER_INSTANCES, 1, minimum=1, maximum=1000)
    # Stalled payments the reconciler looks at (and notes) at once: each look is a few
    # DynamoDB requests of milliseconds, so a page of 100 takes tens of ms, not a second.
    reconcile_concurrency: int = _setting(EnvVar.RECONCILE_CONCURRENCY, 16, minimum=1, maximum=64)
    # The reconciler's new version a rollout check runs (set for that hook alone).
    rollout_check_target: str | None = _setting(EnvVar.ROLLOUT_CHECK_TARGET, None)
    # Partitions the in-flight index's writes spread over (each takes about 1,000 writes/s).
    # 64: a payment makes about 2.1 in-flight index writes (bench/RESULTS.md), so at 5,000
    # payments/s each shard takes ~165 writes/s, a sixth of its limit. Raise it freely; never
    # lower it on a live table (payments in the dropped shards would be invisible to the
    # reconciler until final).
    in_flight_shards: int = _setting(EnvVar.IN_FLIGHT_SHARDS, 64, minimum=1, maximum=1000)
    # Partitions each merchant's listing index spreads over: enough that the busiest
    # merchant's writes stay under half a partition's limit at the peak the capacity model
    # is sized for (bench/RESULTS.md). Each listing call queries every bucket, so no more
    # than needed. Raise it freely; never lower it on a live table (payments in the dropped
    # buckets would not be listed).
    merchant_buckets: int = _setting(EnvVar.MERCHANT_BUCKETS, 32, minimum=1, maximum=256)

    def __post_init__(self) -> None:
        problems = [problem for f in dataclasses.fields(self) if (problem := self._check(f))]
        # A payment is submitted within its TTL and first looked at reconcile_after later:
        # that must come before it is due to be settled (one reconciler period before).
        floor = (
            self.payment_ttl_seconds + self.reconcile_after_seconds + self.reconcile_every_seconds
        )
        if not problems and self.resolve_after_seconds <= floor:
            problems.append(
                f"{EnvVar.RESOLVE_AFTER_SECONDS} must be above {EnvVar.PAYMENT_TTL_SECONDS} + "
                f"{EnvVar.RECONCILE_AFTER_SECONDS} + {EnvVar.RECONCILE_EVERY_SECONDS}"
            )
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))

    def _check(self, setting: dataclasses.Field[Any]) -> str | None:
        return _problem(setting, getattr(self, setting.name))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values: dict[str, Any] = {}
        missing = []
        for setting in dataclasses.fields(cls):
            raw = environ.get(setting.metadata["env"])
            if raw:
                values[setting.name] = _parse(setting, raw)
            elif setting.default is dataclasses.MISSING:
                missing.append(str(setting.metadata["env"]))
        if missing:
            raise SettingsError("missing settings: " + ", ".join(missing))
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {
            str(setting.metadata["env"]): str(getattr(self, setting.name))
            for setting in dataclasses.fields(self)
            if getattr(self, setting.name) is not None
        }

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _problem(setting: dataclasses.Field[Any], value: Any) -> str | None:
    bounds, name = setting.metadata, setting.metadata["env"]
    if value is None:
        return None if setting.default is None else f"{name} is required"
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        return f"{name} has an unusable value"
    if isinstance(value, str):
        return None if value else f"{name} is empty"
    if bounds["minimum"] is not None and value < bounds["minimum"]:
        return f"{name} must be at least {bounds['minimum']}"
    if bounds["above"] is not None and value <= bounds["above"]:
        return f"{name} must be above {bounds['above']}"
    if bounds["maximum"] is not None and value > bounds["maximum"]:
        return f"{name} must be at most {bounds['maximum']}"
    return None


def _parse(setting: dataclasses.Field[Any], raw: str) -> Any:
    kind = str(setting.type)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
    except ValueError:
        raise SettingsError(f"{setting.metadata['env']} must be a number, not {raw!r}") from None
    return raw


def default_of(name: str) -> Any:
    return next(f.default for f in dataclasses.fields(Settings) if f.name == name)


def tunable(name: str, raw: object) -> Any:
    """One setting given from elsewhere than the environment (CDK context): its default if
    `raw` is None, else parsed and checked as from_env would; SettingsError if unusable."""
    setting = next(f for f in dataclasses.fields(Settings) if f.name == name)
    if raw is None:
        return setting.default
    value = _parse(setting, str(raw))
    problem = _problem(setting, value)
    if problem:
        raise SettingsError(f"invalid settings: {problem}")
    return value
