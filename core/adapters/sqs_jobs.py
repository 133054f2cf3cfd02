"""The one module that sends payment jobs to SQS.

A job names the payment and the request's correlation id. It never carries card data:
the worker reads the encrypted card from the payments table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from core.domain.errors import QueueUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS caps DelaySeconds at 15 minutes.
MAX_DELAY_SECONDS = 900
SEND_ATTEMPTS = 3
# A job is a small JSON object; anything much larger is not one of ours.
MAX_JOB_BODY_CHARACTERS = 4096


@dataclass(frozen=True)
class PaymentJob:
    payment_id: str
    correlation_id: str

    def to_body(self) -> str:
        return json.dumps({"paymentId": self.payment_id, "correlationId": self.correlation_id})

    @classmethod
    def from_body(cls, body: str) -> PaymentJob:
        """Parse a job; ValueError for anything that is not one, whatever the body (huge,
        binary, nested thousands deep)."""
        if not isinstance(body, str) or len(body) > MAX_JOB_BODY_CHARACTERS:
            raise ValueError("a payment job is a short JSON object")
        try:
            data: Any = json.loads(body)
        except RecursionError:
            raise ValueError("a payment job is a flat JSON object") from None
        if not isinstance(data, dict):
            raise ValueError("a payment job is a JSON object")
        payment_id, correlation_id = data.get("paymentId"), data.get("correlationId", "")
        if not isinstance(payment_id, str) or not payment_id:
            raise ValueError("a payment job names its paymentId")
        if not isinstance(correlation_id, str):
            raise ValueError("a payment job's correlationId is text")
        return cls(payment_id=payment_id, correlation_id=correlation_id)

    @classmethod
    def parse(cls, body: str) -> PaymentJob | None:
        """The job a body holds, or None if it holds none."""
        try:
            return cls.from_body(body)
        except ValueError:
            return None


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


class JobQueue:
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
