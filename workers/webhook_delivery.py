"""SQS batch worker for webhook deliveries: each record is one attempt due (core/use_cases/
webhook_delivery.py); records of a batch run concurrently (each is an HTTP call of up to
10 s). A record fails back to SQS only when paygate itself failed (a table or queue
throttled) or too little of the run is left to send it: a merchant's endpoint failing is
retried by a new, delayed message. A record whose attempt another copy recorded, its
follow-up not yet queued, is also left for SQS (see `settles`). A message that is not a
delivery job goes to the DLQ
(alarmed) on its own, never failing the records beside it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.domain.webhook_retry import DELIVERY_TIMEOUT_SECONDS
from core.domain.webhooks import DeliveryJob, InvalidDeliveryJobError
from core.observability import is_own_failure, logger, metrics, recorder
from core.use_cases.webhook_delivery import settles
from workers.batches import partial_batch_response

DELIVERY_CONCURRENCY = 10
# Kept back from the run's remaining time, past a send's own deadline, to record it.
SAFETY_MARGIN_SECONDS = 5.0


def deliver_record(record: SQSRecord, deps: Services, deadline: float) -> bool:
    try:
        job = DeliveryJob.from_body(record.body)
    except InvalidDeliveryJobError as error:
        return _set_aside(record, deps, str(error))
    log = {"eventId": job.event_id, "endpointId": job.endpoint_id, "attempt": job.attempt}
    if time.monotonic() + DELIVERY_TIMEOUT_SECONDS > deadline:
        logger.warning(
            "too little time left in this run to send it; SQS will deliver it again", extra=log
        )
        return False
    try:
        outcome = deps.webhook_delivery.deliver(job)
    except Exception as error:
        recorder.count_failure("WebhookRecordsFailed", own=is_own_failure(error))
        logger.warning(
            "delivery record failed; SQS will deliver it again",
            extra=log | {"errorType": type(error).__name__},
        )
        return False
    logger.info("webhook delivery", extra=log | {"outcome": outcome})
    return settles(outcome)


def _set_aside(record: SQSRecord, deps: Services, reason: str) -> bool:
    """Poison to the DLQ, alone: False (back to the queue) only if that move failed."""
    log = {"messageId": record.message_id}
    recorder.count("WebhookPoisonJobs")
    try:
        deps.deliveries.dead_letter_unreadable(record.body, reason)
    except Exception as error:
        logger.warning(
            "not a delivery job, and the DLQ refused it; SQS will deliver it again",
            extra=log | {"errorType": type(error).__name__},
        )
        return False
    logger.error("not a delivery job: moved to the DLQ", extra=log)
    return True


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    deadline = (
        time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
    )
    records = [SQSRecord(raw) for raw in event.get("Records", [])]
    workers = max(1, min(len(records), DELIVERY_CONCURRENCY))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(lambda record: deliver_record(record, deps, deadline), records))
    return partial_batch_response(records, done)


lambda_handler = with_process_services(handle, primes="webhook_delivery")
