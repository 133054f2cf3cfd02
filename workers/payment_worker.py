"""SQS batch worker: each record is a payment job; records of a batch run concurrently
(the bank call is I/O-bound) and only the failed ones are reported back to SQS."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.job_queue import PaymentJob
from core.observability import logger, metrics, recorder
from core.payment_processor import PaymentProcessor

# Kept back from the Lambda's remaining time for the DB write and the batch response.
SAFETY_MARGIN_SECONDS = 3.0


class ConcurrentBatchProcessor(BatchProcessor):
    """powertools' SQS BatchProcessor, with the records of a batch run on a bounded pool."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._max_workers = max_workers

    def process(self) -> list[tuple[Any, ...]]:
        with ThreadPoolExecutor(max_workers=self._max_workers) as pool:
            return list(pool.map(self._process_record, self.records))


def process_record(record: SQSRecord, processor: PaymentProcessor, deadline: float) -> str:
    try:
        job = PaymentJob.from_body(record.body)
        return processor.process(job, deadline=deadline).result.value
    except Exception as error:
        # Only the type: the message of a failed record goes to the logs.
        logger.warning(
            "record failed; SQS will redeliver it",
            extra={"messageId": record.message_id, "errorType": type(error).__name__},
        )
        recorder.count("RecordsFailed")
        raise


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - SAFETY_MARGIN_SECONDS
    batch = ConcurrentBatchProcessor(max_workers=deps.settings.worker_concurrency)
    return dict(
        process_partial_response(
            event=event,
            record_handler=partial(process_record, processor=deps.processor, deadline=deadline),
            processor=batch,
            context=context,
        )
    )


lambda_handler = with_process_services(handle)
