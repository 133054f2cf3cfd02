"""Processing: the worker fed by the jobs queue, and the reconciler on a schedule."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from core.settings import default_of
from infra.functions import Functions
from infra.messaging import Messaging
from infra.scaling import Scaling

BATCHING_WINDOW = Duration.seconds(1)
# The settings' default, so the settle-ahead the reconciler uses is its real period.
RECONCILE_EVERY = Duration.seconds(default_of("reconcile_every_seconds"))


class Processing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        messaging: Messaging,
        scaling: Scaling,
    ) -> None:
        super().__init__(scope, construct_id)
        # A batch per instance, processed at once; at most `worker_instances` instances, so
        # the bank never has more than bank_max_concurrency of our calls in flight.
        functions.live[functions.worker].add_event_source(
            sources.SqsEventSource(
                messaging.jobs,
                batch_size=scaling.worker_concurrency,
                max_batching_window=BATCHING_WINDOW,
                report_batch_item_failures=True,
                max_concurrency=scaling.worker_instances,
            )
        )
        # Runs EventBridge could not invoke (after its retries) land here, alarmed.
        self.schedule_failures = sqs.Queue(
            self,
            "ReconcileScheduleFailures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        NagSuppressions.add_resource_suppressions(
            self.schedule_failures,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason="It is a dead-letter queue itself: EventBridge's, for reconciler "
                    "runs it could not invoke (cdk-nag only recognizes SQS's own DLQs).",
                )
            ],
        )
        self.schedule = events.Rule(
            self,
            "ReconcileSchedule",
            description="Re-queue payments stalled in flight",
            schedule=events.Schedule.rate(RECONCILE_EVERY),
            targets=[
                targets.LambdaFunction(
                    functions.live[functions.reconciler],
                    retry_attempts=2,
                    dead_letter_queue=self.schedule_failures,
                )
            ],
        )
