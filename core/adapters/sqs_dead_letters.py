"""The dead-letter queue: look at what failed, and replay it onto the jobs queue without
ever losing a message (send first, delete second: a crash in between only duplicates a
job, which the worker absorbs).

Any body is survivable (binary, huge, deeply nested): a body is read as a job only if it
is one. Every message a command holds is made visible again when the command ends, even
when it fails (sqs_held_letters.py, shared with the deliveries' DLQ). What a letter is
(job, stale copy, poison) and how it is shown: core/domain/dead_letters.py. A letter comes
with its payment's failure history (first and last failure, the reason, how often) and the
receive count SQS gave up at.

The receive count SQS gave up at is the jobs queue's maxReceiveCount: SQS moves a message
to the DLQ once it has been received that many times, and nothing else sends to this DLQ.
It is read from the jobs queue's redrive policy, never from the letter: the letter's own
ApproximateReceiveCount travels with it into the DLQ (on SQS as on moto) and then grows by
one at every look (every list, show, replay or delete receives it), so it would say how
often ops looked, not how often the worker tried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from core.adapters.aws_errors import describe
from core.adapters.sqs_held_letters import SqsLetterHold
from core.adapters.sqs_jobs import queue_depth
from core.domain.dead_letters import DeadLetters
from core.domain.jobs import PaymentJob
from core.domain.ports import PaymentStore, QueueDepth
from core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsDeadLetterQueue(DeadLetters):
    def __init__(
        self,
        sqs: SQSClient,
        dlq_url: str,
        jobs_url: str,
        payments: PaymentStore,
        now_ms: Callable[[], int],
    ) -> None:
        self._sqs = sqs
        self._dlq_url = dlq_url
        self._jobs_url = jobs_url
        super().__init__(now_ms, SqsLetterHold(sqs, dlq_url), payments, describe)

    def depth(self) -> QueueDepth:
        return queue_depth(self._sqs, self._dlq_url)

    @cached_property
    def receives_when_dead_lettered(self) -> int | None:
        """The jobs queue's maxReceiveCount if it sends its dead letters here; None if it
        does not, or if its redrive policy cannot be read."""
        try:
            jobs = self._sqs.get_queue_attributes(
                QueueUrl=self._jobs_url, AttributeNames=["RedrivePolicy"]
            ).get("Attributes", {})
            here = self._sqs.get_queue_attributes(
                QueueUrl=self._dlq_url, AttributeNames=["QueueArn"]
            ).get("Attributes", {})
            redrive = json.loads(jobs.get("RedrivePolicy") or "{}")
            if redrive.get("deadLetterTargetArn") != here.get("QueueArn"):
                return None
            return int(redrive["maxReceiveCount"])
        except (ClientError, BotoCoreError, ValueError, KeyError, TypeError) as error:
            logger.warning(
                "the jobs queue's redrive policy could not be read",
                extra={"reason": describe(error)},
            )
            return None

    def _requeue(self, job: PaymentJob) -> None:
        self._sqs.send_message(QueueUrl=self._jobs_url, MessageBody=job.to_body())
