"""SQS batch worker for webhook deliveries: each record is one attempt due (core/use_cases/
webhook_delivery.py); records of a batch run concurrently (each is an HTTP call of up to
10 s). A record fails back to SQS only when paygate itself failed (a table or queue
throttled): a merchant's endpoint failing is retried by a new, delayed message."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.domain.webhooks import DeliveryJob
from core.observability import logger, metrics, recorder
from workers.batches import partial_batch_response

DELIVERY_CONCURRENCY = 10


def deliver_record(record: SQSRecord, deps: Services) -> bool:
    try:
        job = DeliveryJob.from_body(record.body)
    except (ValueError, KeyError, TypeError):
        logger.error("not a delivery job: dropped", extra={"messageId": record.message_id})
        recorder.count("WebhookPoisonJobs")
        return True
    log = {"eventId": job.event_id, "endpointId": job.endpoint_id, "attempt": job.attempt}
    try:
        outcome = deps.webhook_delivery.deliver(job)
    except Exception as error:
        recorder.count("WebhookRecordsFailed")
        logger.warning(
            "delivery record failed; SQS will deliver it again",
            extra=log | {"errorType": type(error).__name__},
        )
        return False
    logger.info("webhook delivery", extra=log | {"outcome": outcome})
    return True


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    records = [SQSRecord(raw) for raw in event.get("Records", [])]
    workers = max(1, min(len(records), DELIVERY_CONCURRENCY))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(pool.map(lambda record: deliver_record(record, deps), records))
    return partial_batch_response(records, done)


lambda_handler = with_process_services(handle, primes="webhook_delivery")
