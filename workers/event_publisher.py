"""The payments table's stream -> webhook events (the transactional outbox). Each record is
a write that happened; a status it reached becomes one event (core/use_cases/
webhook_events.py). The batch's events are published together. A record that cannot be
read is reported with everything after it (`batchItemFailures` by sequence number), the
events before it published; if publishing fails, the whole batch is reported. Lambda then
bisects and retries, and sends what still fails to the on-failure destination.

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
    made: list[WebhookEvent] = []
    unread: str | None = None
    for record in records:
        try:
            found = event_of(record, deps)
        except Exception as error:
            unread = _sequence(record)
            _failed(
                "stream record unreadable; it and the records after it are retried", unread, error
            )
            break
        if found is not None:
            made.append(found)
    try:
        deps.event_publisher.publish_all(made)
    except Exception as error:
        first = _sequence(records[0])
        _failed("events not published; the batch is retried", first, error)
        return {"batchItemFailures": [{"itemIdentifier": first}]}
    return {"batchItemFailures": [{"itemIdentifier": unread}] if unread else []}


def _sequence(record: dict[str, Any]) -> str | None:
    return (record.get("dynamodb") or {}).get("SequenceNumber")


def _failed(message: str, sequence: str | None, error: Exception) -> None:
    recorder.count_failure("EventPublishFailures", own=is_own_failure(error))
    logger.warning(message, extra={"sequenceNumber": sequence, "errorType": type(error).__name__})


lambda_handler = with_process_services(handle, primes="event_publisher")
