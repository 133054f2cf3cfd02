"""Configuration, read once from the environment into one typed object."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from core.resources import EnvVar


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    payments_table: str = Field(alias=EnvVar.PAYMENTS_TABLE)
    merchants_table: str = Field(alias=EnvVar.MERCHANTS_TABLE)
    bank_ledger_table: str = Field(alias=EnvVar.BANK_LEDGER_TABLE)
    bank_control_table: str = Field(alias=EnvVar.BANK_CONTROL_TABLE)
    idempotency_table: str = Field(alias=EnvVar.IDEMPOTENCY_TABLE)
    jobs_queue_url: str = Field(alias=EnvVar.JOBS_QUEUE_URL)
    card_key_id: str = Field(alias=EnvVar.CARD_KEY_ID)
    aws_region: str = Field(default="us-east-1", alias=EnvVar.AWS_REGION)
    # Set only for the local stack (moto server); empty means the real AWS endpoints.
    aws_endpoint_url: str | None = Field(default=None, alias=EnvVar.AWS_ENDPOINT_URL)
    payment_ttl_seconds: int = Field(default=600, gt=0, alias=EnvVar.PAYMENT_TTL_SECONDS)
    # The bank: how long one call may take, and how the worker retries transient failures.
    bank_timeout_seconds: float = Field(default=3.0, gt=0, alias=EnvVar.BANK_TIMEOUT_SECONDS)
    bank_max_attempts: int = Field(default=4, ge=1, alias=EnvVar.BANK_MAX_ATTEMPTS)
    bank_retry_initial_seconds: float = Field(
        default=0.2, ge=0, alias=EnvVar.BANK_RETRY_INITIAL_SECONDS
    )
    bank_retry_max_seconds: float = Field(default=2.0, ge=0, alias=EnvVar.BANK_RETRY_MAX_SECONDS)
    # A Pending payment is checked again after base * 2**(checks - 1) seconds, at most cap.
    recheck_base_seconds: int = Field(default=5, ge=0, alias=EnvVar.RECHECK_BASE_SECONDS)
    recheck_cap_seconds: int = Field(default=900, ge=0, le=900, alias=EnvVar.RECHECK_CAP_SECONDS)
    # In flight with no progress for this long: the reconciler queues it again. Longer than
    # the re-check cap and than a job's whole redelivery window (receives x visibility).
    reconcile_after_seconds: int = Field(default=1200, gt=0, alias=EnvVar.RECONCILE_AFTER_SECONDS)
    reconcile_max_attempts: int = Field(default=3, ge=1, alias=EnvVar.RECONCILE_MAX_ATTEMPTS)
    worker_concurrency: int = Field(default=10, ge=1, le=64, alias=EnvVar.WORKER_CONCURRENCY)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        known = {name.value for name in EnvVar}
        values = {key: value for key, value in environ.items() if key in known and value}
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        dumped = self.model_dump(by_alias=True, exclude_none=True)
        return {key: str(value) for key, value in dumped.items()}
