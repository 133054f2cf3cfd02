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
    jobs_queue_url: str = Field(alias=EnvVar.JOBS_QUEUE_URL)
    card_key_id: str = Field(alias=EnvVar.CARD_KEY_ID)
    aws_region: str = Field(default="us-east-1", alias=EnvVar.AWS_REGION)
    # Set only for the local stack (moto server); empty means the real AWS endpoints.
    aws_endpoint_url: str | None = Field(default=None, alias=EnvVar.AWS_ENDPOINT_URL)
    payment_ttl_seconds: int = Field(default=600, gt=0, alias=EnvVar.PAYMENT_TTL_SECONDS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        known = {name.value for name in EnvVar}
        values = {key: value for key, value in environ.items() if key in known and value}
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        dumped = self.model_dump(by_alias=True, exclude_none=True)
        return {key: str(value) for key, value in dumped.items()}
