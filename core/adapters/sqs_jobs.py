"""The one module that sends payment jobs to SQS.

A job names the payment and the request's correlation id. It never carries card data:
the worker reads the encrypted card from the payments table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from core.domain.errors import QueueUnavailableError
from core.domain.jobs import PaymentJob
from core.domain.ports import QueueDepth as QueueDepth  # re-exported: the DLQ tools read it here

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS caps DelaySeconds at 15 minutes, and a SendMessageBatch at 10 messages.
MAX_DELAY_SECONDS = 900
SEND_ATTEMPTS = 3
SQS_BATCH = 10
BATCH_SENDERS = 10


def queue_depth(client: SQSClient, queue_url: str) -> QueueDepth:
    attributes = client.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return QueueDepth(
        visible=int(attributes.get("ApproximateNumberOfMessages", "0")),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", "0")),
    )


class SqsJobQueue:
    def __init__(self, client: SQSClient, queue_url: str, *, retry_wait_max: float = 0.5) -> None:
        self._client = client
        self._queue_url = queue_url
        self._retry_wait_max = retry_wait_max
        self._send_with_retries = retry(
            retry=retry_if_exception_type((ClientError, BotoCoreError)),
            stop=stop_after_attempt(SEND_ATTEMPTS),
            wait=wait_exponential_jitter(multiplier=0.05, max=retry_wait_max),
            reraise=True,
        )(self._send)

    def _send(self, job: PaymentJob, delay_seconds: int) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=job.to_body(),
            DelaySeconds=delay_seconds,
        )

    def publish_many(self, jobs: Sequence[PaymentJob]) -> list[PaymentJob]:
        """SendMessageBatch, 10 jobs a request, up to BATCH_SENDERS requests at once; the
        entries SQS refused, or all of a request that failed, are sent again (SEND_ATTEMPTS
        in all). The jobs never queued."""
        batches = [
            list(jobs[start : start + SQS_BATCH]) for start in range(0, len(jobs), SQS_BATCH)
        ]
        if not batches:
            return []
        with ThreadPoolExecutor(max_workers=min(len(batches), BATCH_SENDERS)) as pool:
            return [
                job for unqueued in pool.map(self._send_with_retry, batches) for job in unqueued
            ]

    def _send_with_retry(self, batch: list[PaymentJob]) -> list[PaymentJob]:
        for attempt in range(SEND_ATTEMPTS):
            if attempt:
                time.sleep(min(self._retry_wait_max, 0.05 * 2**attempt))
            batch = self._send_batch(batch)
            if not batch:
                break
        return batch

    def _send_batch(self, jobs: list[PaymentJob]) -> list[PaymentJob]:
        try:
            response = self._client.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(n), "MessageBody": job.to_body()} for n, job in enumerate(jobs)
                ],
            )
        except (ClientError, BotoCoreError):
            return jobs
        return [jobs[int(failure["Id"])] for failure in response.get("Failed", [])]

    def depth(self) -> QueueDepth:
        return queue_depth(self._client, self._queue_url)

    def publish(self, job: PaymentJob, *, delay_seconds: int = 0) -> None:
        """Send a job, retrying transient failures; QueueUnavailableError if all fail."""
        delay = max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        try:
            self._send_with_retries(job, delay)
        except (ClientError, BotoCoreError) as error:
            raise QueueUnavailableError(
                "the payment was recorded but could not be queued; it will be retried"
            ) from error
