"""Messaging: the payment jobs queue and its dead-letter queue, KMS-encrypted, TLS only."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.resources import (
    DELIVERIES_DLQ,
    DELIVERIES_QUEUE,
    JOBS_DLQ,
    JOBS_QUEUE,
    MAX_RECEIVE_COUNT,
    SLOW_DELIVERIES_QUEUE,
    QueueSpec,
)
from infra.keys import ServiceKey
from infra.stages import StageProfile


class Messaging(Construct):
    """The queues' names are generated (the CLI reads their URLs from the outputs)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, prefix: str, stage: StageProfile
    ) -> None:
        super().__init__(scope, construct_id)
        self._removal = stage.data_removal
        self.queue_key = ServiceKey(
            self,
            "QueueKey",
            service="sqs",
            description=f"{prefix}: payment job queues",
            removal_policy=stage.data_removal,
        )
        self.jobs, self.dead_letters = self._with_dlq("Jobs", JOBS_QUEUE, JOBS_DLQ)
        self.deliveries, self.delivery_dead_letters = self._with_dlq(
            "Deliveries", DELIVERIES_QUEUE, DELIVERIES_DLQ
        )
        # The slow lane of deliveries, with the same DLQ.
        self.slow_deliveries = self._queue(
            "SlowDeliveriesQueue", SLOW_DELIVERIES_QUEUE, self.delivery_dead_letters
        )

    def _with_dlq(self, name: str, spec: QueueSpec, dlq: QueueSpec) -> tuple[sqs.Queue, sqs.Queue]:
        # Kept like the stage's other data (prod): a teardown never loses a dead letter.
        dead_letters = sqs.Queue(
            self,
            "DeadLetterQueue" if name == "Jobs" else f"{name}DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.queue_key,
            enforce_ssl=True,
            retention_period=Duration.seconds(dlq.retention_seconds),
            visibility_timeout=Duration.seconds(dlq.visibility_timeout_seconds),
            removal_policy=self._removal,
        )
        return self._queue(f"{name}Queue", spec, dead_letters), dead_letters

    def _queue(self, construct_id: str, spec: QueueSpec, dead_letters: sqs.Queue) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.queue_key,
            enforce_ssl=True,
            retention_period=Duration.seconds(spec.retention_seconds),
            visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letters, max_receive_count=MAX_RECEIVE_COUNT
            ),
            removal_policy=self._removal,
        )
