"""Processing: the worker fed by the jobs queue, and the reconciler on a schedule."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from core.domain.webhook_events import EVENT_TYPES
from core.resources import (
    DELIVERIES_SOURCE,
    PAYMENTS_STREAM_SOURCE,
    SLOW_DELIVERIES_SOURCE,
)
from core.settings import default_of
from infra.functions import Functions
from infra.messaging import Messaging
from infra.scaling import Scaling
from infra.storage import Storage

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
        storage: Storage,
        scaling: Scaling,
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._removal = removal
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
        self._webhooks(functions, messaging, storage, scaling)
        # Runs EventBridge could not invoke (after its retries) land here, alarmed.
        self.schedule_failures = self._failure_queue("ReconcileScheduleFailures")
        self.schedule = events.Rule(
            self,
            "ReconcileSchedule",
            description="Re-queue payments stalled in flight",
            schedule=events.Schedule.rate(RECONCILE_EVERY),
            targets=[
                # EventBridge tries again only when it could not invoke (the reconciler's one
                # instance busy); once invoked, a failed run is not run again (the alias
                # allows no async retries): the next scheduled run goes on from there.
                targets.LambdaFunction(
                    functions.live[functions.reconciler],
                    retry_attempts=2,
                    dead_letter_queue=self.schedule_failures,
                )
            ],
        )
        # One reviewed reason for both failure queues, made above: they are dead-letter queues.
        NagSuppressions.add_resource_suppressions(
            self,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason="Its queues are dead-letter queues themselves: EventBridge's for "
                    "reconciler runs it could not invoke, and the payments stream's on-failure "
                    "destination (cdk-nag only recognizes SQS's own DLQs).",
                )
            ],
            apply_to_children=True,
        )

    def _webhooks(
        self, functions: Functions, messaging: Messaging, storage: Storage, scaling: Scaling
    ) -> None:
        """The payments stream feeds the event publisher: only writes that reach a status an
        event is named for (filter), records in order, a failing batch split in two until
        the failing record is alone (bisect), then retried and, if it still fails, its
        position sent to a queue of its own (alarmed) instead of blocking the shard."""
        self.stream_failures = self._failure_queue("EventStreamFailures")
        statuses = [status.value for status in EVENT_TYPES]
        functions.live[functions.event_publisher].add_event_source(
            sources.DynamoEventSource(
                storage.payments,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=PAYMENTS_STREAM_SOURCE.batch_size,
                parallelization_factor=PAYMENTS_STREAM_SOURCE.parallelization_factor,
                bisect_batch_on_error=PAYMENTS_STREAM_SOURCE.bisect_batch_on_error,
                retry_attempts=PAYMENTS_STREAM_SOURCE.retry_attempts,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.stream_failures),
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "eventName": ["INSERT", "MODIFY"],
                            "dynamodb": {"NewImage": {"status": {"S": statuses}}},
                        }
                    )
                ],
            )
        )
        # Deliveries in two lanes, each with its own maximum of instances, so endpoints that
        # are slow to answer hold up only the slow lane's (core/use_cases/webhook_delivery.py).
        for queue, lane, instances in (
            (messaging.deliveries, DELIVERIES_SOURCE, scaling.webhook_instances),
            (messaging.slow_deliveries, SLOW_DELIVERIES_SOURCE, scaling.slow_webhook_instances),
        ):
            functions.live[functions.webhook_delivery].add_event_source(
                sources.SqsEventSource(
                    queue,
                    batch_size=lane.batch_size,
                    max_batching_window=BATCHING_WINDOW,
                    report_batch_item_failures=True,
                    max_concurrency=instances,
                )
            )

    def _failure_queue(self, construct_id: str) -> sqs.Queue:
        """A queue where a service leaves what it could not deliver, alarmed; kept like
        the stage's other data (prod): a teardown never loses a dead letter."""
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=self._removal,
        )
