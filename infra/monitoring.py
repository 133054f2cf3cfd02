"""Monitoring: the alarms of docs/runbook.md, all to one SNS topic, and a dashboard."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.domain.payment import PaymentStatus
from core.resources import METRICS_NAMESPACE, SERVICE
from infra.api import Api
from infra.functions import Functions
from infra.messaging import Messaging

OLDEST_JOB_SECONDS = 300
FIVE_MINUTES = Duration.minutes(5)
# The reconciler looks at a stuck payment once per reconcile threshold (20 min) plus its
# schedule (5 min): a window that long always holds a count while any payment is stuck.
STUCK_WINDOW = Duration.minutes(25)
THROTTLED_METRIC = "ThrottledRequests"
# A record failing is retried by SQS; this many in 5 minutes is more than a passing fault.
RECORDS_FAILED_THRESHOLD = 10
API_P99_MILLISECONDS = 2000
ITERATOR_AGE_MS = 5 * 60 * 1000
# Services that publish to the alarm topic.
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")


def _throttle_events(tables: list[dynamodb.Table]) -> cloudwatch.MathExpression:
    metrics = {
        f"{kind[0].lower()}{n}": table.metric(
            f"{kind}ThrottleEvents", period=FIVE_MINUTES, statistic="Sum"
        )
        for n, table in enumerate(tables)
        for kind in ("Read", "Write")
    }
    return cloudwatch.MathExpression(
        expression="+".join(metrics), using_metrics=metrics, period=FIVE_MINUTES
    )


def _paygate_metric(
    name: str, statistic: str = "Sum", period: Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=statistic,
        period=period,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        api: Api,
        functions: Functions,
        messaging: Messaging,
        tables: list[dynamodb.Table],
        schedule_failures: sqs.Queue,
        stream_failures: sqs.Queue,
        monthly_budget_usd: int,
        alarm_emails: tuple[str, ...] = (),
        removal: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = prefix
        self.topic = self._topic(prefix, removal)
        # Each address gets AWS's confirmation mail first: alarms reach it once confirmed.
        for email in alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        throttled = logs.MetricFilter(
            self,
            "ThrottledRequestsFilter",
            log_group=api.access_logs,
            metric_namespace=METRICS_NAMESPACE,
            metric_name=THROTTLED_METRIC,
            filter_pattern=logs.FilterPattern.number_value("$.status", "=", 429),
            metric_value="1",
            default_value=0,
        )
        self.alarms = [
            self._alarm(
                "DeadLetterQueueNotEmpty",
                "Payment jobs are in the DLQ: see docs/runbook.md, then `paygate dlq replay`",
                messaging.dead_letters.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=1,
            ),
            self._alarm(
                "JobsQueueOldestMessageAge",
                f"A payment job has waited over {OLDEST_JOB_SECONDS}s: the worker is behind",
                messaging.jobs.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=OLDEST_JOB_SECONDS,
            ),
            *(
                self._alarm(
                    f"{function.node.id}Errors",
                    f"{function.node.id} invocations failed as a whole",
                    function.metric_errors(period=FIVE_MINUTES),
                    threshold=1,
                )
                for function in functions.all
            ),
            self._alarm(
                "WorkerRecordsFailed",
                "Payment jobs failed in the worker and go back to the queue (a missing "
                "permission, the bank or a table failing)",
                _paygate_metric("RecordsFailed"),
                threshold=RECORDS_FAILED_THRESHOLD,
            ),
            self._alarm(
                "WorkerThrottles",
                "The worker is throttled: Lambda concurrency is exhausted",
                functions.worker.metric_throttles(period=FIVE_MINUTES),
                threshold=1,
            ),
            self._alarm(
                "ApiLatencyP99",
                f"The API's p99 latency is over {API_P99_MILLISECONDS} ms",
                api.rest_api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
                threshold=API_P99_MILLISECONDS,
            ),
            self._alarm(
                "DynamoDbThrottles",
                "DynamoDB throttled reads or writes of paygate's tables",
                _throttle_events(tables),
                threshold=1,
            ),
            self._alarm(
                "ReconcilerScheduleFailed",
                "A scheduled reconciler run could not be invoked (EventBridge gave up)",
                schedule_failures.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum"
                ),
                threshold=1,
            ),
            self._alarm(
                "Api5xxErrors",
                "The API answered 5xx",
                api.rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
            ),
            self._alarm(
                "ApiThrottles",
                "Merchants are being throttled (429)",
                throttled.metric(period=FIVE_MINUTES, statistic="Sum"),
                threshold=10,
            ),
            self._alarm(
                "PaymentsStuck",
                "Payments stay in flight after every re-queue: their jobs are in the DLQ",
                _paygate_metric("PaymentsStuck", period=STUCK_WINDOW),
                threshold=1,
            ),
            self._alarm(
                "ReconcilerPaymentErrors",
                "The reconciler failed on some payments (it went on with the others)",
                _paygate_metric("ReconcilerErrors"),
                threshold=1,
            ),
            self._alarm(
                "PaymentsSettledAtBound",
                "Payments reached their resolution bound and were settled with the bank",
                _paygate_metric("PaymentsResolved"),
                threshold=1,
            ),
            self._alarm(
                "WebhookDeadLetters",
                "Webhook deliveries failed for 3 days and are in the deliveries DLQ",
                messaging.delivery_dead_letters.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum"
                ),
                threshold=1,
            ),
            self._alarm(
                "EventStreamFailures",
                "Payment stream records the event publisher could not handle (their events "
                "were not made)",
                stream_failures.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum"
                ),
                threshold=1,
            ),
            self._alarm(
                "EventPublisherIteratorAge",
                f"Webhook events lag the payments stream by over {ITERATOR_AGE_MS // 60000} min",
                functions.event_publisher.metric(
                    "IteratorAge", period=FIVE_MINUTES, statistic="Maximum"
                ),
                threshold=ITERATOR_AGE_MS,
            ),
            self._alarm(
                "UnreadablePayments",
                "Stored payment items could not be read",
                _paygate_metric("UnreadablePayments"),
                threshold=1,
            ),
        ]
        self.by_name = {alarm.node.id: alarm for alarm in self.alarms}
        self.dashboard = self._dashboard(prefix, api, functions, messaging)
        self.budget = self._budget(prefix, monthly_budget_usd)

    def rollback_alarms(
        self, function: lambda_.Function, functions: Functions
    ) -> list[cloudwatch.IAlarm]:
        """What rolls a new version of `function` back: its own errors, and what its
        callers see (the API's 5xx and p99 for the API's functions, failed payment jobs
        for the worker)."""
        names = [f"{function.node.id}Errors"]
        if function in functions.api_functions:
            names += ["Api5xxErrors", "ApiLatencyP99"]
        if function is functions.worker:
            names += ["WorkerRecordsFailed"]
        return [self.by_name[name] for name in names]

    def _topic(self, prefix: str, removal: RemovalPolicy) -> sns.Topic:
        """The topic every alarm and the budget notify. Its policy must allow the services
        that publish to it: enforce_ssl replaces SNS's default policy with a Deny only."""
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{prefix}: alarm topic",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="paygate alarms",
            master_key=key,
            enforce_ssl=True,
        )
        account = Stack.of(self).account
        for service in PUBLISHERS:
            key.grant_encrypt_decrypt(iam.ServicePrincipal(service))
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{service.split('.')[0].title()}ToPublish",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": account}},
                )
            )
        return topic

    def _budget(self, prefix: str, monthly_usd: int) -> budgets.CfnBudget:
        """The account's monthly AWS cost, against `monthly_usd`: 80% spent, and 100%
        forecast, notify the topic."""
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(
                subscription_type="SNS", address=self.topic.topic_arn
            )
        ]
        return budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{prefix}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, percent in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
        )

    def _alarm(
        self, name: str, description: str, metric: cloudwatch.IMetric, *, threshold: float
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_name=f"{self._prefix}-{name}",
            alarm_description=f"{description}. Runbook: docs/runbook.md#{name}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm

    def _dashboard(
        self, prefix: str, api: Api, functions: Functions, messaging: Messaging
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{prefix}-payments")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depths",
                left=[
                    messaging.jobs.metric_approximate_number_of_messages_visible(),
                    messaging.jobs.metric_approximate_number_of_messages_not_visible(),
                    messaging.dead_letters.metric_approximate_number_of_messages_visible(),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Outcomes by status",
                left=[
                    _paygate_metric(f"Payments{status.value}")
                    for status in PaymentStatus
                    if status.is_final or status is PaymentStatus.PENDING
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Bank latency (ms) and retries",
                left=[_paygate_metric("BankLatency", "p50"), _paygate_metric("BankLatency", "p99")],
                right=[_paygate_metric("BankRetries"), _paygate_metric("RecordsFailed")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency (ms) and errors",
                left=[
                    api.rest_api.metric_latency(statistic="p50"),
                    api.rest_api.metric_latency(statistic="p99"),
                ],
                right=[
                    api.rest_api.metric_client_error(),
                    api.rest_api.metric_server_error(),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Webhooks: delivered, failed attempts, dead-lettered",
                left=[
                    _paygate_metric("WebhooksDelivered"),
                    _paygate_metric("WebhookAttemptsFailed"),
                    _paygate_metric("WebhooksDeadLettered"),
                ],
                right=[
                    messaging.deliveries.metric_approximate_number_of_messages_visible(),
                    messaging.delivery_dead_letters.metric_approximate_number_of_messages_visible(),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Webhook events: made, stream lag (ms)",
                left=[_paygate_metric("WebhookEvents")],
                right=[
                    functions.event_publisher.metric(
                        "IteratorAge", period=FIVE_MINUTES, statistic="Maximum"
                    )
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )
        return dashboard
