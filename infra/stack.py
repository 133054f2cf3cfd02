"""The paygate stack: composes one construct per concern, and names its outputs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from core.resources import StackOutput
from infra.api import Api
from infra.firewall import DEFAULT_IP_RATE_LIMIT, Firewall
from infra.functions import Functions
from infra.messaging import Messaging
from infra.monitoring import Monitoring
from infra.processing import Processing
from infra.rollouts import Rollouts
from infra.scaling import (
    DEFAULT_MONTHLY_BUDGET_USD,
    MONTHLY_BUDGET_USD,
    Scaling,
    context_whole,
)
from infra.stages import WAF_IP_RATE_LIMIT, Stage
from infra.storage import Storage


class PaygateStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        stage: Stage,
        **kwargs: object,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=stage.environment,
            termination_protection=stage.profile.termination_protection,
            **kwargs,  # type: ignore[arg-type]
        )
        prefix = construct_id
        self.stage = stage
        self.scaling = scaling = Scaling.from_context(
            self.node,
            stage.api_limits,
            stage.profile.account_concurrency,
            stage.profile.webhook_instances,
        )
        self.storage = Storage(self, "Storage", prefix=prefix, stage=stage.profile)
        self.messaging = Messaging(self, "Messaging", prefix=prefix, stage=stage.profile)
        self.functions = Functions(
            self,
            "Functions",
            prefix=prefix,
            code=code,
            storage=self.storage,
            messaging=self.messaging,
            scaling=scaling,
            stage=stage.profile,
        )
        self.api = Api(self, "Api", prefix=prefix, functions=self.functions, scaling=scaling)
        self.firewall = (
            Firewall(
                self,
                "Firewall",
                prefix=prefix,
                rest_api=self.api.rest_api,
                ip_rate_limit=context_whole(self.node, WAF_IP_RATE_LIMIT, DEFAULT_IP_RATE_LIMIT),
                allowed_cidrs=stage.waf_allowed_cidrs,
                logs_key=self.storage.logs_key,
                stage=stage.profile,
            )
            if stage.profile.waf
            else None
        )
        self.processing = Processing(
            self,
            "Processing",
            functions=self.functions,
            messaging=self.messaging,
            storage=self.storage,
            scaling=scaling,
            removal=stage.profile.data_removal,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            prefix=prefix,
            api=self.api,
            functions=self.functions,
            messaging=self.messaging,
            schedule_failures=self.processing.schedule_failures,
            stream_failures=self.processing.stream_failures,
            monthly_budget_usd=context_whole(
                self.node, MONTHLY_BUDGET_USD, DEFAULT_MONTHLY_BUDGET_USD
            ),
            alarm_emails=stage.alarm_emails,
            removal=stage.profile.data_removal,
        )
        self.rollouts = (
            Rollouts(self, "Rollouts", functions=self.functions, monitoring=self.monitoring)
            if stage.profile.gradual_rollout
            else None
        )
        # Last: every queue, table and function is there to be covered.
        self.monitoring.cover_the_rest(self, self.functions)
        outputs = {
            StackOutput.API_URL: self.api.rest_api.url,
            StackOutput.JOBS_QUEUE_URL: self.messaging.jobs.queue_url,
            StackOutput.DLQ_URL: self.messaging.dead_letters.queue_url,
            StackOutput.PAYMENTS_TABLE: self.storage.payments.table_name,
            StackOutput.MERCHANTS_TABLE: self.storage.merchants.table_name,
            StackOutput.BANK_LEDGER_TABLE: self.storage.bank_ledger.table_name,
            StackOutput.BANK_CONTROL_TABLE: self.storage.bank_control.table_name,
            StackOutput.IDEMPOTENCY_TABLE: self.storage.idempotency.table_name,
            StackOutput.CARD_KEY_ID: self.storage.card_key.key_arn,
            StackOutput.CARD_DIGEST_KEY_ID: self.storage.card_digest_key.key_arn,
            StackOutput.CARD_KEYS_TABLE: self.storage.card_keys.table_name,
            StackOutput.CURSOR_KEY_ID: self.storage.cursor_key.key_arn,
            StackOutput.IDEMPOTENCY_DIGEST_KEY_ID: self.storage.idempotency_digest_key.key_arn,
            StackOutput.ALARM_TOPIC_ARN: self.monitoring.topic.topic_arn,
            StackOutput.USAGE_PLAN_ID: self.api.usage_plan.usage_plan_id,
            StackOutput.LARGE_USAGE_PLAN_ID: self.api.large_usage_plan.usage_plan_id,
            StackOutput.EVENTS_TABLE: self.storage.events.table_name,
            StackOutput.WEBHOOK_ENDPOINTS_TABLE: self.storage.webhook_endpoints.table_name,
            StackOutput.DELIVERIES_QUEUE_URL: self.messaging.deliveries.queue_url,
            StackOutput.DELIVERIES_DLQ_URL: self.messaging.delivery_dead_letters.queue_url,
            StackOutput.SLOW_DELIVERIES_QUEUE_URL: self.messaging.slow_deliveries.queue_url,
            StackOutput.WEBHOOK_SECRET_KEY_ID: self.storage.webhook_secret_key.key_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, str(name), value=value)
