"""An SQS dead-letter queue as the DLQ commands hold it (LetterHold), for both DLQs: the
payment jobs' (sqs_dead_letters.py) and the webhook deliveries' (sqs_deliveries.py).
Letters are received in batches as the command reads them, each hidden while it runs;
whatever it does not delete is made visible again when it ends, even when it fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from core.adapters.aws_errors import describe
from core.domain.held_letters import MAX_LETTERS, HeldLetter
from core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# How long a letter a command looks at stays hidden from anyone else.
HOLD_SECONDS = 60
_RECEIVE_BATCH = 10


class _SqsHeld:
    def __init__(self, sqs: SQSClient, queue_url: str, most: int) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._most = most
        self._hidden: dict[str, None] = {}

    def __iter__(self) -> Iterator[HeldLetter]:
        received = 0
        while received < self._most:
            batch = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(_RECEIVE_BATCH, self._most - received),
                VisibilityTimeout=HOLD_SECONDS,
                MessageSystemAttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            if not batch:
                return
            received += len(batch)
            # Released even if the reader stops before it reaches them.
            self._hidden.update((message["ReceiptHandle"], None) for message in batch)
            for message in batch:
                yield HeldLetter(
                    message_id=message["MessageId"],
                    body=message.get("Body", ""),
                    sent_at_ms=int(message.get("Attributes", {}).get("SentTimestamp", "0")),
                    receipt_handle=message["ReceiptHandle"],
                )

    def delete(self, letter: HeldLetter) -> None:
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=letter.receipt_handle)
        self._hidden.pop(letter.receipt_handle, None)

    def release(self) -> None:
        """Make what is still hidden visible again; a letter that cannot be is visible again
        by itself once its hold (HOLD_SECONDS) runs out, and the others are still released."""
        for receipt_handle in self._hidden:
            try:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
                )
            except (ClientError, BotoCoreError) as error:
                logger.warning(
                    "a dead letter stays hidden until its hold runs out",
                    extra={"reason": describe(error)},
                )


class SqsLetterHold:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    @contextmanager
    def holding(self, most: int = MAX_LETTERS) -> Iterator[_SqsHeld]:
        held = _SqsHeld(self._sqs, self._queue_url, most)
        try:
            yield held
        finally:
            held.release()
