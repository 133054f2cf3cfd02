"""Messaging: the payment jobs queue and its dead-letter queue, KMS-encrypted, TLS only."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.resources import JOBS_DLQ, JOBS_QUEUE, MAX_RECEIVE_COUNT
from infra.stages import StageProfile


class Messaging(Construct):
    """The queues' names are generated (the CLI reads their URLs from the outputs)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, prefix: str, stage: StageProfile
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue_key = kms.Key(
            self,
            "QueueKey",
            description=f"{prefix}: payment job queues",
            enable_key_rotation=True,
            removal_policy=stage.data_removal,
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.queue_key,
            enforce_ssl=True,
            retention_period=Duration.seconds(JOBS_DLQ.retention_seconds),
            visibility_timeout=Duration.seconds(JOBS_DLQ.visibility_timeout_seconds),
        )
        self.jobs = sqs.Queue(
            self,
            "JobsQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.queue_key,
            enforce_ssl=True,
            retention_period=Duration.seconds(JOBS_QUEUE.retention_seconds),
            visibility_timeout=Duration.seconds(JOBS_QUEUE.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
