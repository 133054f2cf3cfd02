"""The webhook deliveries queue: one message per attempt due. SQS delays a message at most
15 minutes, so a retry due later is delayed that long and, when received early, sent on
again (core/use_cases/webhook_delivery.py) until it is due. A job for the slow lane goes to
the slow deliveries queue, which shares the DLQ."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.adapters.sqs_held_letters import SqsLetterHold
from core.domain.webhooks import DeadLetterReplay, DeliveryJob, replay_delivery_letters

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_MAX_DELAY_SECONDS = 900
SQS_BATCH = 10
REASON_ATTRIBUTE = "reason"


class SqsDeliveryQueue:
    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        dlq_url: str,
        slow_queue_url: str,
        max_delay_seconds: int = SQS_MAX_DELAY_SECONDS,
    ) -> None:
        self._client = client
        self._queue_url = queue_url
        self._dlq_url = dlq_url
        self._slow_queue_url = slow_queue_url
        self._dead_letters = SqsLetterHold(client, dlq_url)
        # Tests driven by a fake clock set 0: every message is visible at once.
        self._max_delay = max_delay_seconds

    def publish(self, jobs: Sequence[DeliveryJob], now: float) -> None:
        """Raises if SQS refuses any (the caller's batch item is then retried)."""
        for slow in (False, True):
            self._send([job for job in jobs if job.slow is slow], now, slow=slow)

    def _send(self, jobs: Sequence[DeliveryJob], now: float, *, slow: bool) -> None:
        for start in range(0, len(jobs), SQS_BATCH):
            batch = jobs[start : start + SQS_BATCH]
            response = self._client.send_message_batch(
                QueueUrl=self._slow_queue_url if slow else self._queue_url,
                Entries=[
                    {
                        "Id": str(n),
                        "MessageBody": job.to_body(),
                        "DelaySeconds": min(self._max_delay, max(0, math.ceil(job.due_at - now))),
                    }
                    for n, job in enumerate(batch)
                ],
            )
            if response.get("Failed"):
                raise RuntimeError(f"SQS refused {len(response['Failed'])} deliveries")

    def dead_letter(self, job: DeliveryJob, reason: str) -> None:
        self.dead_letter_unreadable(job.to_body(), reason)

    def dead_letter_unreadable(self, body: str, reason: str) -> None:
        self._client.send_message(
            QueueUrl=self._dlq_url,
            MessageBody=body,
            MessageAttributes={
                REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:1000]}
            },
        )

    def replay_dead_letters(self, now: float, *, dry_run: bool, limit: int) -> DeadLetterReplay:
        return replay_delivery_letters(
            self._dead_letters, self.publish, now, dry_run=dry_run, limit=limit
        )
