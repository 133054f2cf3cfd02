"""Monitoring: the alarms of docs/runbook.md, all to one SNS topic, and a dashboard."""

from __future__ import annotations

from typing import TypeVar

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
from core.resources import (
    EXECUTED_VERSION_DIMENSION,
    FUNCTION_NAME_DIMENSION,
    METRICS_NAMESPACE,
    OWN_FAILURES_METRIC,
    SERVICE,
)
from infra.api import Api
from infra.functions import LIVE_ALIAS, Functions
from infra.messaging import Messaging

T = TypeVar("T")

OLDEST_JOB_SECONDS = 300
# Delivery jobs wait in their queues on purpose, up to SQS's longest delay, until due.
SQS_MAX_DELAY_SECONDS = 900
FIVE_MINUTES = Duration.minutes(5)
# The reconciler looks at a stuck payment once per reconcile threshold (20 min) plus its
# schedule (5 min): a window that long always holds a count while any payment is stuck.
STUCK_WINDOW = Duration.minutes(25)
THROTTLED_METRIC = "ThrottledRequests"
# A record failing is retried by SQS; this many in 5 minutes is more than a passing fault.
RECORDS_FAILED_THRESHOLD = 10
API_P99_MILLISECONDS = 2000
ITERATOR_AGE_MS = 5 * 60 * 1000
# The cost allocation tag AWS puts on whatever CloudFormation creates: the budget's filter.
STACK_NAME_TAG = "aws:cloudformation:stack-name"
# Services that publish to the alarm topic.
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")
# A canary of a new version (infra/rollouts.py) is judged minute by minute: a version whose
# own failures reach this share of its invocations, from this many in a minute, goes back.
ROLLBACK_PERIOD = Duration.minutes(1)
ROLLBACK_FAILURE_PERCENT = 5
ROLLBACK_MIN_FAILURES = 2


def _throttle_events(table: dynamodb.Table) -> cloudwatch.MathExpression:
    metrics = {
        kind.lower(): table.metric(f"{kind}ThrottleEvents", period=FIVE_MINUTES, statistic="Sum")
        for kind in ("Read", "Write")
    }
    return cloudwatch.MathExpression(
        expression="+".join(metrics), using_metrics=metrics, period=FIVE_MINUTES
    )


def _all_in(stack: Stack, kind: type[T]) -> list[T]:
    return [construct for construct in stack.node.find_all() if isinstance(construct, kind)]


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
                "OperationJobsNotQueued",
                "Warning: captures, voids or refunds were recorded but their jobs not queued. "
                "Nothing is lost: the reconciler queues them within "
                f"{STUCK_WINDOW.to_minutes()} min (PaymentsStuck follows if it cannot)",
                _paygate_metric("OperationJobsNotQueued"),
                threshold=1,
            ),
            self._alarm(
                "CardKeyUpkeepFailures",
                "The worker could not make the card key pairs ahead: cards are encrypted "
                "to yesterday's key pair, then by KMS per payment, until it can",
                _paygate_metric("CardKeyUpkeepFailures"),
                threshold=1,
            ),
            self._alarm(
                "UnreadablePayments",
                "Stored payment items could not be read",
                _paygate_metric("UnreadablePayments"),
                threshold=1,
            ),
        ]
        self.by_name = {alarm.node.id: alarm for alarm in self.alarms}
        # The queues the alarms above watch by name; cover_the_rest watches the others.
        self._watched_queues = [
            messaging.dead_letters,
            messaging.jobs,
            schedule_failures,
            messaging.delivery_dead_letters,
            stream_failures,
        ]
        self.dashboard = self._dashboard(prefix, api, functions, messaging)
        self.budget = self._budget(prefix, monthly_budget_usd)

    def cover_the_rest(self, stack: Stack, functions: Functions) -> None:
        """Alarms derived from the constructs, so none is left out: every queue no alarm
        above watches (one fed to a worker: its oldest message; one holding failures: not
        empty), every table (its throttled reads and writes) and every function the factory
        built (its errors); then the dashboard's widget of every alarm. Called once the
        stack holds all of them."""
        watched = {id(queue) for queue in self._watched_queues}
        for queue in _all_in(stack, sqs.Queue):
            if id(queue) in watched:
                continue
            if queue.dead_letter_queue is not None:
                self._add(
                    f"{queue.node.id}OldestMessageAge",
                    f"A message of {queue.node.id} has waited over "
                    f"{OLDEST_JOB_SECONDS}s past its delay: its worker is behind",
                    queue.metric_approximate_age_of_oldest_message(
                        period=Duration.minutes(1), statistic="Maximum"
                    ),
                    threshold=OLDEST_JOB_SECONDS + SQS_MAX_DELAY_SECONDS,
                )
            else:
                self._add(
                    f"{queue.node.id}NotEmpty",
                    f"{queue.node.id} holds failed messages",
                    queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum"
                    ),
                    threshold=1,
                )
        for table in _all_in(stack, dynamodb.Table):
            self._add(
                f"{table.node.id}TableThrottles",
                f"DynamoDB throttled reads or writes of the {table.node.id} table",
                _throttle_events(table),
                threshold=1,
            )
        for function in functions.factory.built:
            self._add(
                f"{function.node.id}Errors",
                f"{function.node.id} invocations failed as a whole",
                function.metric_errors(period=FIVE_MINUTES),
                threshold=1,
            )
        # Last, so it shows every alarm, the derived ones included.
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24)
        )

    def _add(
        self, name: str, description: str, metric: cloudwatch.IMetric, *, threshold: float
    ) -> None:
        alarm = self._alarm(name, description, metric, threshold=threshold)
        self.alarms.append(alarm)
        self.by_name[name] = alarm

    def rollback_alarms(
        self, function: lambda_.Function, functions: Functions
    ) -> list[cloudwatch.IAlarm]:
        """What rolls a new version of `function` back, each watching that version alone
        (Lambda's ExecutedVersion dimension) over 1-minute periods, so a canary of 10% for
        5 minutes can trip it: its invocations failing as a whole; and, for each function
        that catches its failures (the API's 500s, the workers' failed records), its own
        failures as a share of its invocations (core/observability.py: not the bank's, a
        merchant's endpoint's, a bad message's or a passing AWS fault's, so the API's
        by-design 503s never roll back a release)."""
        name = function.function_name
        version = function.current_version.version
        own_dimensions = {FUNCTION_NAME_DIMENSION: name, EXECUTED_VERSION_DIMENSION: version}
        lambda_dimensions = own_dimensions | {"Resource": f"{name}:{LIVE_ALIAS}"}

        def lambda_metric(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name=metric_name,
                dimensions_map=lambda_dimensions,
                statistic="Sum",
                period=ROLLBACK_PERIOD,
            )

        construct_id = function.node.id
        alarms = [
            self._alarm(
                f"{construct_id}NewVersionErrors",
                f"A new version of {construct_id} failed invocations as a whole: the "
                "deployment rolls back",
                lambda_metric("Errors"),
                threshold=1,
            )
        ]
        if function in functions.counting_own_failures:
            own = cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=OWN_FAILURES_METRIC,
                dimensions_map=own_dimensions,
                statistic="Sum",
                period=ROLLBACK_PERIOD,
            )
            share = cloudwatch.MathExpression(
                expression=(
                    f"IF(FILL(own, 0) >= {ROLLBACK_MIN_FAILURES}, "
                    "100 * FILL(own, 0) / FILL(invocations, 1), 0)"
                ),
                using_metrics={"own": own, "invocations": lambda_metric("Invocations")},
                period=ROLLBACK_PERIOD,
            )
            alarms.append(
                self._alarm(
                    f"{construct_id}NewVersionOwnFailures",
                    f"A new version of {construct_id} fails on its own (not the bank, an "
                    f"endpoint or a passing AWS fault) in {ROLLBACK_FAILURE_PERCENT}% or more "
                    "of its invocations: the deployment rolls back",
                    share,
                    threshold=ROLLBACK_FAILURE_PERCENT,
                )
            )
        return list(alarms)

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
        """This stack's monthly AWS cost, against `monthly_usd`: 80% spent, and 100%
        forecast, notify the topic. Only the stack's own resources count, by AWS's
        aws:cloudformation:stack-name tag (activated once in Billing, cost allocation tags:
        docs/deploy.md), never the rest of the account."""
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
                cost_filters={"TagKeyValue": [f"{STACK_NAME_TAG}${Stack.of(self).stack_name}"]},
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
                title="Webhooks: delivered, failed attempts, dead-lettered, slow lane",
                left=[
                    _paygate_metric("WebhooksDelivered"),
                    _paygate_metric("WebhookAttemptsFailed"),
                    _paygate_metric("WebhooksDeadLettered"),
                    _paygate_metric("WebhooksToSlowLane"),
                ],
                right=[
                    messaging.deliveries.metric_approximate_number_of_messages_visible(),
                    messaging.slow_deliveries.metric_approximate_number_of_messages_visible(),
                    messaging.delivery_dead_letters.metric_approximate_number_of_messages_visible(),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Captures, voids, refunds: asked, refunds answered; not queued, expired",
                left=[
                    _paygate_metric(name)
                    for name in (
                        "CapturesAsked",
                        "VoidsAsked",
                        "RefundsAsked",
                        "RefundsSucceeded",
                        "RefundsFailed",
                    )
                ],
                # Jobs the reconciler must queue; authorizations it voided at their hold's end
                right=[
                    _paygate_metric("OperationJobsNotQueued"),
                    _paygate_metric("AuthorizationsExpired"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Card keys: cards encrypted by KMS (no key pair found); upkeep failures",
                left=[_paygate_metric("CardsEncryptedByKms")],
                right=[_paygate_metric("CardKeyUpkeepFailures")],
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
        )
        return dashboard
