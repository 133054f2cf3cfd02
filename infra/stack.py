"""The paygate stack: composes one construct per concern, and names its outputs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from core.resources import StackOutput
from infra.api import Api
from infra.functions import Functions
from infra.messaging import Messaging
from infra.monitoring import Monitoring
from infra.processing import Processing
from infra.scaling import (
    DEFAULT_MONTHLY_BUDGET_USD,
    MONTHLY_BUDGET_USD,
    Scaling,
    context_whole,
)
from infra.storage import Storage


class PaygateStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, code: lambda_.Code, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        prefix = construct_id
        scaling = Scaling.from_context(self.node)
        self.storage = Storage(self, "Storage", prefix=prefix)
        self.messaging = Messaging(self, "Messaging", prefix=prefix)
        self.functions = Functions(
            self,
            "Functions",
            prefix=prefix,
            code=code,
            storage=self.storage,
            messaging=self.messaging,
            scaling=scaling,
        )
        self.api = Api(self, "Api", prefix=prefix, functions=self.functions, scaling=scaling)
        self.processing = Processing(
            self, "Processing", functions=self.functions, messaging=self.messaging, scaling=scaling
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            prefix=prefix,
            api=self.api,
            functions=self.functions,
            messaging=self.messaging,
            tables=[self.storage.payments, self.storage.merchants, self.storage.idempotency],
            schedule_failures=self.processing.schedule_failures,
            monthly_budget_usd=context_whole(
                self.node, MONTHLY_BUDGET_USD, DEFAULT_MONTHLY_BUDGET_USD
            ),
        )
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
            StackOutput.CURSOR_KEY_ID: self.storage.cursor_key.key_arn,
            StackOutput.ALARM_TOPIC_ARN: self.monitoring.topic.topic_arn,
            StackOutput.USAGE_PLAN_ID: self.api.usage_plan.usage_plan_id,
            StackOutput.LARGE_USAGE_PLAN_ID: self.api.large_usage_plan.usage_plan_id,
        }
        for name, value in outputs.items():
            CfnOutput(self, str(name), value=value)
