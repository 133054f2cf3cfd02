"""Which paygate the CLI talks to: the local stack (from its state file) or a deployed
CDK stack (from its CloudFormation outputs)."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cli.local_stack import LOCAL_CREDENTIALS
from core.bootstrap import AwsClients, Services
from core.clock import SystemClock
from core.dead_letters import DeadLetterQueue
from core.resources import EnvVar, StackOutput
from core.settings import Settings

_OUTPUT_TO_ENV = {
    StackOutput.JOBS_QUEUE_URL: EnvVar.JOBS_QUEUE_URL,
    StackOutput.PAYMENTS_TABLE: EnvVar.PAYMENTS_TABLE,
    StackOutput.MERCHANTS_TABLE: EnvVar.MERCHANTS_TABLE,
    StackOutput.BANK_LEDGER_TABLE: EnvVar.BANK_LEDGER_TABLE,
    StackOutput.BANK_CONTROL_TABLE: EnvVar.BANK_CONTROL_TABLE,
    StackOutput.IDEMPOTENCY_TABLE: EnvVar.IDEMPOTENCY_TABLE,
    StackOutput.CARD_KEY_ID: EnvVar.CARD_KEY_ID,
    StackOutput.CARD_DIGEST_KEY_ID: EnvVar.CARD_DIGEST_KEY_ID,
    StackOutput.CURSOR_KEY_ID: EnvVar.CURSOR_KEY_ID,
}


class TargetError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    name: str
    settings: Settings
    dlq_url: str
    api_url: str | None
    session: boto3.session.Session
    usage_plan_id: str | None = None

    @cached_property
    def actor(self) -> str:
        """Who runs this command, for the audit trail of merchant keys."""
        if self.name == "local":
            return f"local:{getpass.getuser()}"
        try:
            return str(self.session.client("sts").get_caller_identity()["Arn"])
        except (ClientError, BotoCoreError):
            return "aws:unknown"

    @cached_property
    def services(self) -> Services:
        return Services(self.settings, AwsClients(self.settings, self.session), SystemClock())

    @cached_property
    def dead_letters(self) -> DeadLetterQueue:
        return DeadLetterQueue(
            self.services.clients.sqs,
            self.dlq_url,
            self.settings.jobs_queue_url,
            self.services.payments,
        )


def local_target(state_file: Path) -> Target:
    if not state_file.exists():
        raise TargetError(
            f"no local stack is running ({state_file} not found): start one with `make run`, "
            "or name a deployed stack with --stack"
        )
    state = json.loads(state_file.read_text())
    settings = Settings.from_env(state["environment"])
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    return Target(
        name="local",
        settings=settings,
        dlq_url=state["deadLetterQueueUrl"],
        api_url=state["url"],
        session=boto3.session.Session(region_name=settings.aws_region),
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
    )
