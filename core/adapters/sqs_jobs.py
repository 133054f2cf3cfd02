"""The one module that sends payment jobs to SQS.

A job names the payment and the request's correlation id. It never carries card data:
the worker reads the encrypted card from the payments table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from core.domain.errors import QueueUnavailableError
from core.domain.jobs import PaymentJob

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS caps DelaySeconds at 15 minutes.
MAX_DELAY_SECONDS = 900
SEND_ATTEMPTS = 3


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


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
