"""Processing: the worker fed by the jobs queue, and the reconciler on a schedule."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from core.settings import default_of
from infra.functions import Functions
from infra.messaging import Messaging

BATCH_SIZE = 10
BATCHING_WINDOW = Duration.seconds(1)
# At most this many worker instances at once: protects the bank from a burst of jobs.
MAX_WORKER_CONCURRENCY = 10
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
    ) -> None:
        super().__init__(scope, construct_id)
        functions.worker.add_event_source(
            sources.SqsEventSource(
                messaging.jobs,
                batch_size=BATCH_SIZE,
                max_batching_window=BATCHING_WINDOW,
                report_batch_item_failures=True,
                max_concurrency=MAX_WORKER_CONCURRENCY,
            )
        )
        self.schedule = events.Rule(
            self,
            "ReconcileSchedule",
            description="Re-queue payments stalled in flight",
            schedule=events.Schedule.rate(RECONCILE_EVERY),
            targets=[targets.LambdaFunction(functions.reconciler, retry_attempts=2)],
        )
