"""Stages: what differs between a developer's stack and production, chosen with
`-c stage=dev|prod` (dev by default). Everything else is the same template.

- dev: data is disposable (tables, keys and logs go with the stack), no deletion or
  termination protection, logs kept two weeks, a low API throttle, no WAF, functions
  updated all at once. Deployed to the account and Region of the caller's credentials.
- prod: data outlives the stack (RETAIN_ON_UPDATE_OR_DELETE: kept on delete and
  replacement, removed only when the create that made it is rolled back), tables with
  deletion protection, termination protection, logs kept a year, WAF on the API, SnapStart
  on the API functions, every function shifted to a new version by a CodeDeploy canary
  that rolls back on its alarms.
  It must name its account, Region, owner and who receives alarms; a prod stack is never
  deployed to whatever account the caller's credentials happen to be for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from core.resources import DEFAULT_PREFIX, DELIVERIES_SOURCE, SERVICE
from core.settings import SettingsError
from infra.scaling import (
    DEFAULT_API_BURST_LIMIT,
    DEFAULT_API_RATE_LIMIT,
    PROD_WEBHOOK_INSTANCES,
    RAISED_ACCOUNT_CONCURRENCY,
)

STAGE = "stage"
ACCOUNT = "account"
REGION = "region"
OWNER = "owner"
ALARM_EMAILS = "alarmEmails"
WAF_ALLOWED_CIDRS = "wafAllowedCidrs"
WAF_IP_RATE_LIMIT = "wafIpRateLimit"
DEFAULT_OWNER = "unassigned"


@dataclass(frozen=True)
class StageProfile:
    name: str
    log_retention: logs.RetentionDays
    # Of whatever holds data: tables, KMS keys, log groups.
    data_removal: RemovalPolicy
    deletion_protection: bool
    termination_protection: bool
    waf: bool
    # The API functions start from a snapshot taken when their version is published.
    snap_start: bool
    gradual_rollout: bool
    api_rate_limit: int
    api_burst_limit: int
    # Lambda concurrency of the account and Region it is deployed to (AWS's default 1,000;
    # docs/sizing.md asks a prod account to raise it): every function's maximum fits in it.
    account_concurrency: int
    # Its tables and indexes serve the peak from their first second (infra/scaling.py
    # WARM_THROUGHPUT), and its fast lane of webhook deliveries runs this many instances at
    # most (CDK context webhookInstances overrides it).
    warm_tables: bool
    webhook_instances: int
    # Context a deployment of this stage must set.
    required: tuple[str, ...] = field(default=())


DEV = StageProfile(
    name="dev",
    log_retention=logs.RetentionDays.TWO_WEEKS,
    data_removal=RemovalPolicy.DESTROY,
    deletion_protection=False,
    termination_protection=False,
    waf=False,
    snap_start=False,
    gradual_rollout=False,
    api_rate_limit=100,
    api_burst_limit=200,
    account_concurrency=1000,
    warm_tables=False,
    webhook_instances=DELIVERIES_SOURCE.max_concurrency,
)
PROD = StageProfile(
    name="prod",
    # PCI DSS 10.5.1: audit logs kept at least a year.
    log_retention=logs.RetentionDays.ONE_YEAR,
    data_removal=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    deletion_protection=True,
    termination_protection=True,
    waf=True,
    snap_start=True,
    gradual_rollout=True,
    api_rate_limit=DEFAULT_API_RATE_LIMIT,
    api_burst_limit=DEFAULT_API_BURST_LIMIT,
    account_concurrency=RAISED_ACCOUNT_CONCURRENCY,
    warm_tables=True,
    webhook_instances=PROD_WEBHOOK_INSTANCES,
    required=(ACCOUNT, REGION, OWNER, ALARM_EMAILS),
)
STAGES = {profile.name: profile for profile in (DEV, PROD)}


@dataclass(frozen=True)
class Stage:
    """A stage's profile and the deployment's own choices from context."""

    profile: StageProfile
    stack_name: str
    environment: cdk.Environment | None
    owner: str
    alarm_emails: tuple[str, ...]
    waf_allowed_cidrs: tuple[str, ...]

    @property
    def api_limits(self) -> tuple[int, int]:
        return self.profile.api_rate_limit, self.profile.api_burst_limit

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def tags(self) -> dict[str, str]:
        return {"service": SERVICE, "stage": self.name, "owner": self.owner}

    @classmethod
    def from_context(cls, node: Node, environ: Mapping[str, str] = os.environ) -> Stage:
        name = str(node.try_get_context(STAGE) or DEV.name)
        profile = STAGES.get(name)
        if profile is None:
            raise SettingsError(f"{STAGE} must be one of {', '.join(STAGES)}, not {name!r}")

        def text(key: str) -> str:
            return str(node.try_get_context(key) or "").strip()

        missing = [key for key in profile.required if not text(key)]
        if missing:
            raise SettingsError(
                f"a {name} stack must set {', '.join(missing)} (-c name=value), "
                "as docs/deploy.md shows"
            )
        account = text(ACCOUNT) or environ.get("CDK_DEFAULT_ACCOUNT", "")
        region = text(REGION) or environ.get("CDK_DEFAULT_REGION", "")
        emails = _listed(text(ALARM_EMAILS))
        for email in emails:
            if "@" not in email.strip("@"):
                raise SettingsError(f"{ALARM_EMAILS}: {email!r} is not an email address")
        return cls(
            profile=profile,
            stack_name=text("stackName") or f"{DEFAULT_PREFIX}-{name}",
            environment=cdk.Environment(account=account, region=region)
            if account and region
            else None,
            owner=text(OWNER) or DEFAULT_OWNER,
            alarm_emails=emails,
            waf_allowed_cidrs=_listed(text(WAF_ALLOWED_CIDRS)),
        )


def _listed(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())
