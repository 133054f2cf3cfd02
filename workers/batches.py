"""What SQS-fed workers share: the partial batch response Lambda reads (only the records
that failed go back to the queue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def partial_batch_response(records: Sequence[SQSRecord], done: Sequence[bool]) -> dict[str, Any]:
    return {
        "batchItemFailures": [
            {"itemIdentifier": record.message_id}
            for record, succeeded in zip(records, done, strict=True)
            if not succeeded
        ]
    }
