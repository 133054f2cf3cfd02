"""Which paygate the CLI talks to: the local stack (from its state file) or a deployed
CDK stack (from its CloudFormation outputs)."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError

from cli.local_state import LOCAL_CREDENTIALS, StateFileError, note_keys_changed, running_state
from cli.output import fail, say
from core.bootstrap import AwsClients, Services
from core.domain.clock import SystemClock, epoch_seconds
from core.domain.dead_letters import DeadLetters
from core.domain.merchants import MerchantStore
from core.resources import EnvVar, StackOutput
from core.settings import Settings, SettingsError

_OUTPUT_TO_ENV = {
    StackOutput.JOBS_QUEUE_URL: EnvVar.JOBS_QUEUE_URL,
    StackOutput.PAYMENTS_TABLE: EnvVar.PAYMENTS_TABLE,
    StackOutput.MERCHANTS_TABLE: EnvVar.MERCHANTS_TABLE,
    StackOutput.BANK_LEDGER_TABLE: EnvVar.BANK_LEDGER_TABLE,
    StackOutput.BANK_CONTROL_TABLE: EnvVar.BANK_CONTROL_TABLE,
    StackOutput.IDEMPOTENCY_TABLE: EnvVar.IDEMPOTENCY_TABLE,
    StackOutput.CARD_KEY_ID: EnvVar.CARD_KEY_ID,
    StackOutput.CARD_DIGEST_KEY_ID: EnvVar.CARD_DIGEST_KEY_ID,
    StackOutput.CARD_KEYS_TABLE: EnvVar.CARD_KEYS_TABLE,
    StackOutput.CURSOR_KEY_ID: EnvVar.CURSOR_KEY_ID,
    StackOutput.IDEMPOTENCY_DIGEST_KEY_ID: EnvVar.IDEMPOTENCY_DIGEST_KEY_ID,
    StackOutput.EVENTS_TABLE: EnvVar.EVENTS_TABLE,
    StackOutput.WEBHOOK_ENDPOINTS_TABLE: EnvVar.WEBHOOK_ENDPOINTS_TABLE,
    StackOutput.DELIVERIES_QUEUE_URL: EnvVar.DELIVERIES_QUEUE_URL,
    StackOutput.DELIVERIES_DLQ_URL: EnvVar.DELIVERIES_DLQ_URL,
    StackOutput.SLOW_DELIVERIES_QUEUE_URL: EnvVar.SLOW_DELIVERIES_QUEUE_URL,
    StackOutput.WEBHOOK_SECRET_KEY_ID: EnvVar.WEBHOOK_SECRET_KEY_ID,
}


class TargetError(Exception):
    pass


@dataclass(frozen=True)
class TargetChoice:
    """The global options: a deployed stack, or the local stack's state file."""

    stack: str | None
    region: str | None
    profile: str | None
    state_file: Path

    def resolve(self) -> Target:
        if self.stack:
            return aws_target(self.stack, self.region, self.profile)
        return local_target(self.state_file)


@dataclass(frozen=True)
class Target:
    name: str
    settings: Settings
    dlq_url: str
    api_url: str | None
    session: boto3.session.Session
    usage_plan_id: str | None = None
    large_usage_plan_id: str | None = None
    # The local stack's state file (None on AWS).
    state_file: Path | None = None
    # The local stack's development merchant's API key (None on AWS: no key is kept there).
    dev_api_key: str | None = None

    @property
    def is_local(self) -> bool:
        return self.state_file is not None

    def note_keys_changed(self) -> None:
        """A key was revoked: the local gateway drops its cached answers at once (on AWS
        API Gateway's cache runs out within the authorizer TTL)."""
        if self.state_file is not None:
            note_keys_changed(self.state_file)

    @cached_property
    def actor(self) -> str:
        """Who runs this command, for the audit trail of merchant keys."""
        if self.name == "local":
            return f"local:{getpass.getuser()}"
        try:
            return str(self.session.client("sts").get_caller_identity()["Arn"])
        except (ClientError, BotoCoreError):
            return "aws:unknown"

    def merchants(self) -> MerchantStore:
        """The merchant store, with any keys issued before merchants were registered
        adopted first (once), so no id is ever issued to a second shop."""
        store = self.services.merchants
        adopted = store.adopt_legacy_keys(now=epoch_seconds(self.services.clock), actor=self.actor)
        if adopted:
            say(f"registered the merchants of earlier keys: {', '.join(adopted)}")
        return store

    @cached_property
    def services(self) -> Services:
        return Services(self.settings, AwsClients(self.settings, self.session), SystemClock())

    @cached_property
    def dead_letters(self) -> DeadLetters:
        return self.services.dead_letter_queue(self.dlq_url)


def local_target(state_file: Path) -> Target:
    try:
        state = running_state(state_file)
        settings = Settings.from_env(state.environment)
    except StateFileError as error:
        raise TargetError(str(error)) from None
    except SettingsError as error:
        raise TargetError(f"{state_file} holds unusable settings: {error}") from None
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    api_key = state.document.get("apiKey")
    return Target(
        name="local",
        settings=settings,
        dlq_url=state.dlq_url,
        api_url=state.url,
        session=boto3.session.Session(region_name=settings.aws_region),
        state_file=state_file,
        dev_api_key=api_key if isinstance(api_key, str) else None,
    )


def aws_target(stack: str, region: str | None, profile: str | None) -> Target:
    session = boto3.session.Session(profile_name=profile, region_name=region)
    try:
        described = session.client("cloudformation").describe_stacks(StackName=stack)
    except (ClientError, BotoCoreError) as error:
        raise TargetError(f"cannot read stack {stack}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}
    missing = [str(key) for key in (*_OUTPUT_TO_ENV, StackOutput.DLQ_URL) if key not in outputs]
    if missing:
        raise TargetError(f"stack {stack} lacks the outputs {', '.join(missing)}")
    env = {str(variable): outputs[output] for output, variable in _OUTPUT_TO_ENV.items()}
    env[EnvVar.AWS_REGION] = session.region_name or "us-east-1"
    return Target(
        name=stack,
        settings=Settings.from_env(env),
        dlq_url=outputs[StackOutput.DLQ_URL],
        api_url=outputs.get(StackOutput.API_URL),
        session=session,
        usage_plan_id=outputs.get(StackOutput.USAGE_PLAN_ID),
        large_usage_plan_id=outputs.get(StackOutput.LARGE_USAGE_PLAN_ID),
    )


def target_of(ctx: typer.Context) -> Target:
    """The stack a command acts on, from the global options; exits 2 (one line) if there is
    none to talk to."""
    choice = ctx.find_root().obj
    assert isinstance(choice, TargetChoice)
    try:
        return choice.resolve()
    except TargetError as error:
        fail(str(error), 2)
