"""SQS batch worker: each record is a payment job; records of a batch run concurrently
(the bank call is I/O-bound) and only the failed ones are reported back to SQS (a partial
batch response: `batchItemFailures`), which delivers them again, and after the queue's
maxReceiveCount moves them to the DLQ."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.domain.errors import BankUnavailableError, UnreadablePaymentError
from core.domain.jobs import PaymentJob
from core.observability import CORRELATION_KEY, is_own_failure, logger, metrics, recorder
from core.resources import MAX_RECEIVE_COUNT
from core.use_cases.card_key_upkeep import CardKeyUpkeep
from core.use_cases.payment_processor import PaymentProcessor, PoisonJobError
from workers.batches import partial_batch_response

# Kept back from the Lambda's remaining time for the DB write and the batch response.
SAFETY_MARGIN_SECONDS = 3.0


def process_record(record: SQSRecord, processor: PaymentProcessor, deadline: float) -> bool:
    """Process one record; False (after saying why) if SQS must deliver it again."""
    attributes = record.raw_event.get("attributes") or {}
    receives = int(attributes.get("ApproximateReceiveCount") or 1)
    log: dict[str, Any] = {"messageId": record.message_id, "receives": receives}
    try:
        job = PaymentJob.parse(record.body)
        if job is None:
            raise PoisonJobError("the message is not a payment job")
        log |= {"paymentId": job.payment_id, CORRELATION_KEY: job.correlation_id}
        processor.process(job, deadline=deadline)
    except Exception as error:
        log["reason"] = processor.reason_of(error)
        foreign = (BankUnavailableError, PoisonJobError, UnreadablePaymentError)
        recorder.count_failure("RecordsFailed", own=is_own_failure(error, *foreign))
        if receives >= MAX_RECEIVE_COUNT:
            logger.error("record failed on its last delivery; SQS moves it to the DLQ", extra=log)
            recorder.count("RecordsDeadLettered")
            if "paymentId" in log:
                processor.note_dead_lettered(log["paymentId"], receives)
        else:
            logger.warning("record failed; SQS will deliver it again", extra=log)
        return False
    return True


def keep_card_keys_ahead(upkeep: CardKeyUpkeep) -> None:
    """Make the card key pairs ahead that are missing (core/domain/card_keys.py). A failure
    stops no payment: make-payment encrypts with yesterday's key, or KMS, meanwhile."""
    try:
        made = upkeep.run()
    except Exception as error:
        logger.error("card key upkeep failed", extra={"errorType": type(error).__name__})
        recorder.count("CardKeyUpkeepFailures")
        return
    for epoch in made:
        logger.info("card key pair made", extra={"epoch": epoch})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + remaining - SAFETY_MARGIN_SECONDS
    keep_card_keys_ahead(deps.card_key_upkeep)
    records = [SQSRecord(raw) for raw in event.get("Records", [])]
    workers = max(1, min(len(records), deps.settings.worker_concurrency))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(
            pool.map(lambda record: process_record(record, deps.processor, deadline), records)
        )
    return partial_batch_response(records, done)


lambda_handler = with_process_services(handle, primes="processor")
