"""The payments table's stream -> webhook events (the transactional outbox). Each record is
a write that happened; a status it reached becomes one event (core/use_cases/
webhook_events.py). Records are handled in order, and the first that fails is reported
with everything after it (`batchItemFailures` by sequence number), as Lambda requires of
a stream: the event source bisects and retries, then sends what still fails to its
on-failure destination.

Stream images hold the card ciphertext: it is dropped before anything else is read, and
nothing of an image is ever logged."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.domain.webhook_events import WebhookEvent, event_of_write
from core.observability import is_own_failure, logger, metrics, recorder


def event_of(record: dict[str, Any], deps: Services) -> WebhookEvent | None:
    """The event a stream record makes, or None (not a status reached)."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    change = record.get("dynamodb") or {}
    new = deps.payment_of_stream_image(change.get("NewImage") or {})
    old_image = change.get("OldImage")
    old = deps.payment_of_stream_image(old_image) if old_image else None
    return event_of_write(old, new)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    records = event.get("Records", [])
    for record in records:
        sequence = (record.get("dynamodb") or {}).get("SequenceNumber")
        try:
            made = event_of(record, deps)
            if made is not None:
                deps.event_publisher.publish(made)
        except Exception as error:
            recorder.count_failure("EventPublishFailures", own=is_own_failure(error))
            logger.warning(
                "stream record failed; it and the records after it are retried",
                extra={"sequenceNumber": sequence, "errorType": type(error).__name__},
            )
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    return {"batchItemFailures": []}


lambda_handler = with_process_services(handle, primes="event_publisher")
