"""The events table: each payment's webhook events and their deliveries, oldest first.

Entries of one payment (partition key paymentId): "v#<version>" is the event, with the
exact body every delivery sends; "v#<version>#d#<endpointId>" is its delivery to one
endpoint, with every attempt. Events also carry a day-and-shard key (sparse index byDay)
so replays by time query, never scan.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core.adapters.aws_errors import is_condition_failure
from core.adapters.partition_keys import stable_slot
from core.adapters.write_tokens import WRITE_TOKEN, new_write_token, refused_item_written_by
from core.domain.webhook_events import (
    EVENT_RETENTION_SECONDS,
    WebhookEvent,
    event_id,
    parse_event_id,
)
from core.domain.webhooks import (
    Attempt,
    Delivery,
    DeliveryJob,
    DeliveryProgress,
    DeliveryState,
    StoredEvent,
)
from core.resources import EVENTS_BY_DAY_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Partitions a day's events spread over in the byDay index: at 5,000 payments/s (about
# 10,250 events/s) each of 64 takes about 160 writes/s, a sixth of a partition's 1,000 (16
# took 64%). Raise it freely; never lower it (events in the dropped shards would not be
# replayed by time). A replay by time queries every shard of each day.
DAY_SHARDS = 64
BATCH_WRITE_ITEMS = 25
# Seconds waited before sending again what a BatchWriteItem left unprocessed (throttled).
UNPROCESSED_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8)
_DAY_SECONDS = 24 * 3600


def _entry(version: int, endpoint_id: str | None = None) -> str:
    event = f"v#{version:08d}"
    return f"{event}#d#{endpoint_id}" if endpoint_id else event


def _day(created: int) -> str:
    return datetime.fromtimestamp(created, tz=UTC).strftime("%Y-%m-%d")


def _attempt_of(raw: dict[str, Any]) -> Attempt:
    values = raw["M"]
    return Attempt(
        at=float(values["at"]["N"]),
        milliseconds=int(values["ms"]["N"]),
        status=int(values["status"]["N"]) if "status" in values else None,
        error=values["error"]["S"] if "error" in values else None,
    )


def _attempt_item(attempt: Attempt) -> dict[str, Any]:
    values: dict[str, Any] = {"at": {"N": str(attempt.at)}, "ms": {"N": str(attempt.milliseconds)}}
    if attempt.status is not None:
        values["status"] = {"N": str(attempt.status)}
    if attempt.error:
        values["error"] = {"S": attempt.error[:500]}
    return {"M": values}


def _event_of(item: dict[str, Any], deliveries: tuple[Delivery, ...] = ()) -> StoredEvent:
    return StoredEvent(
        event_id=item["eventId"]["S"],
        type=item["type"]["S"],
        created=int(item["created"]["N"]),
        payment_id=item["paymentId"]["S"],
        merchant_id=item["merchantId"]["S"],
        version=int(item["version"]["N"]),
        body=item["body"]["S"],
        deliveries=deliveries,
    )


def _progress_of(item: dict[str, Any]) -> DeliveryProgress:
    def number(name: str) -> float | None:
        return float(item[name]["N"]) if name in item else None

    return DeliveryProgress(
        state=item["state"]["S"],
        chain=int(item.get("chain", {}).get("N", "0")),
        attempt=int(item.get("lastAttempt", {}).get("N", "0")),
        follow_up_pending=item.get("followUp", {}).get("BOOL", False),
        next_at=number("nextAt"),
        first_attempt_at=number("firstAt"),
    )


def _delivery_of(item: dict[str, Any]) -> Delivery:
    return Delivery(
        endpoint_id=item["endpointId"]["S"],
        url=item["url"]["S"],
        state=item["state"]["S"],
        attempts=tuple(_attempt_of(a) for a in item.get("attempts", {}).get("L", [])),
        reason=item.get("reason", {}).get("S"),
    )


class DynamoEventStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, event_id: str, endpoint_id: str | None = None) -> dict[str, Any]:
        parsed = parse_event_id(event_id)
        if parsed is None:
            raise ValueError(f"not an event id: {event_id!r}")
        payment_id, version = parsed
        return {"paymentId": {"S": payment_id}, "entry": {"S": _entry(version, endpoint_id)}}

    def _event_item(self, event: WebhookEvent, body: str) -> dict[str, Any]:
        shard = stable_slot(event.id, DAY_SHARDS)
        return self._key(event.id) | {
            "eventId": {"S": event.id},
            "type": {"S": event.type},
            "created": {"N": str(event.created)},
            "merchantId": {"S": event.merchant_id},
            "version": {"N": str(event.version)},
            "body": {"S": body},
            EVENTS_BY_DAY_INDEX.partition_key.name: {"S": f"{_day(event.created)}#{shard:02d}"},
            "expiresAt": {"N": str(event.created + EVENT_RETENTION_SECONDS)},
        }

    def put_all(self, events: Sequence[tuple[WebhookEvent, str]]) -> None:
        """BatchWriteItem, 25 a request; what DynamoDB leaves unprocessed is sent again, a
        few times, then RuntimeError (the stream's batch is retried). An event is the same
        item each time it is written: its id and body come from the write it was made of."""
        by_id = {event.id: self._event_item(event, body) for event, body in events}
        puts: list[Any] = [{"PutRequest": {"Item": item}} for item in by_id.values()]
        for start in range(0, len(puts), BATCH_WRITE_ITEMS):
            pending = puts[start : start + BATCH_WRITE_ITEMS]
            for wait in (*UNPROCESSED_WAITS, None):
                answer = self._client.batch_write_item(RequestItems={self._table: pending})
                pending = list(answer.get("UnprocessedItems", {}).get(self._table, []))
                if not pending or wait is None:
                    break
                time.sleep(wait)
            if pending:
                raise RuntimeError(f"DynamoDB left {len(pending)} events unwritten")

    def get(self, event_id: str) -> StoredEvent | None:
        if parse_event_id(event_id) is None:
            return None
        item = self._client.get_item(
            TableName=self._table, Key=self._key(event_id), ConsistentRead=True
        ).get("Item")
        return _event_of(item) if item else None

    def get_for_delivery(
        self, event_id: str, endpoint_id: str
    ) -> tuple[StoredEvent | None, DeliveryProgress | None]:
        """The event and how far its delivery to one endpoint has got, in one query (the
        event and its deliveries share a key prefix)."""
        if parse_event_id(event_id) is None:
            return None, None
        key = self._key(event_id)
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression="paymentId = :p AND begins_with(entry, :e)",
            ExpressionAttributeValues={":p": key["paymentId"], ":e": key["entry"]},
            ConsistentRead=True,
        ).get("Items", [])
        event = next((i for i in items if i["entry"] == key["entry"]), None)
        delivery_entry = self._key(event_id, endpoint_id)["entry"]
        delivery = next((i for i in items if i["entry"] == delivery_entry), None)
        return (
            _event_of(event) if event else None,
            _progress_of(delivery) if delivery else None,
        )

    def record_attempt(
        self,
        job: DeliveryJob,
        url: str,
        attempt: Attempt,
        state: str,
        *,
        next_at: float | None = None,
        first_attempt_at: float | None = None,
    ) -> bool:
        """Whether it was recorded: False if the delivery has this attempt already, or an
        attempt of a newer chain (DeliveryJob): the job was a repeat, to end here. A
        retrying or failed attempt is recorded with its follow-up pending (when the next
        one is due) until `follow_up_queued`."""
        token = new_write_token()
        values: dict[str, Any] = {
            ":token": {"S": token},
            ":none": {"L": []},
            ":one": {"L": [_attempt_item(attempt)]},
            ":state": {"S": state},
            ":url": {"S": url},
            ":event": {"S": job.event_id},
            ":endpoint": {"S": job.endpoint_id},
            ":chain": {"N": str(job.chain)},
            ":attempt": {"N": str(job.attempt)},
            ":expires": {"N": str(int(attempt.at) + EVENT_RETENTION_SECONDS)},
            ":pending": {"BOOL": state != DeliveryState.DELIVERED},
        }
        optional = {"nextAt": next_at, "firstAt": first_attempt_at}
        given = {name: value for name, value in optional.items() if value is not None}
        values |= {f":{name}": {"N": str(value)} for name, value in given.items()}
        sets = [f"{name} = :{name}" for name in given]
        removes = [name for name in optional if name not in given]
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(job.event_id, job.endpoint_id),
                UpdateExpression=(
                    "SET attempts = list_append(if_not_exists(attempts, :none), :one), "
                    "#s = :state, #u = :url, eventId = :event, endpointId = :endpoint, "
                    "#chain = :chain, lastAttempt = :attempt, followUp = :pending, "
                    "#token = :token, expiresAt = if_not_exists(expiresAt, :expires)"
                    + "".join(f", {each}" for each in sets)
                    + (f" REMOVE {', '.join(removes)}" if removes else "")
                ),
                ConditionExpression=(
                    "attribute_not_exists(#chain) OR #chain < :chain "
                    "OR (#chain = :chain AND lastAttempt < :attempt)"
                ),
                ExpressionAttributeNames={
                    "#s": "state",
                    "#u": "url",
                    "#chain": "chain",
                    "#token": WRITE_TOKEN,
                },
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                # Refused: a copy's write, unless it is this one's, its answer lost.
                return refused_item_written_by(error, token)
            raise
        return True

    def end_delivery(self, job: DeliveryJob, reason: str) -> None:
        """The delivery is never tried again (its endpoint is gone): ended, with why. Only
        a delivery still retrying in this job's chain or an older one."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(job.event_id, job.endpoint_id),
                UpdateExpression="SET #s = :ended, reason = :reason, followUp = :no REMOVE nextAt",
                ConditionExpression="#s = :retrying AND #chain <= :chain",
                ExpressionAttributeNames={"#s": "state", "#chain": "chain"},
                ExpressionAttributeValues={
                    ":ended": {"S": DeliveryState.ENDED},
                    ":retrying": {"S": DeliveryState.RETRYING},
                    ":reason": {"S": reason},
                    ":no": {"BOOL": False},
                    ":chain": {"N": str(job.chain)},
                },
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def follow_up_queued(self, job: DeliveryJob) -> None:
        """What follows the job's attempt is queued (unless a later attempt was recorded
        since, which says so already)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(job.event_id, job.endpoint_id),
                UpdateExpression="SET followUp = :no",
                ConditionExpression="#chain = :chain AND lastAttempt = :attempt",
                ExpressionAttributeNames={"#chain": "chain"},
                ExpressionAttributeValues={
                    ":no": {"BOOL": False},
                    ":chain": {"N": str(job.chain)},
                    ":attempt": {"N": str(job.attempt)},
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def events_of(self, payment_id: str) -> list[StoredEvent]:
        """The payment's events oldest first, each with its deliveries."""
        items: list[dict[str, Any]] = []
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="paymentId = :p",
            ExpressionAttributeValues={":p": {"S": payment_id}},
            ConsistentRead=True,
        )
        for page in pages:
            items.extend(page.get("Items", []))
        events: list[StoredEvent] = []
        deliveries: dict[str, list[Delivery]] = {}
        for item in items:
            entry = item["entry"]["S"]
            if "#d#" in entry:
                deliveries.setdefault(entry.split("#d#")[0], []).append(_delivery_of(item))
        for item in items:
            entry = item["entry"]["S"]
            if "#d#" not in entry:
                events.append(_event_of(item, tuple(deliveries.get(entry, ()))))
        return events

    def event_ids_since(self, since: int, until: int | None = None) -> Iterator[str]:
        """Ids of the events created from `since` (epoch seconds) to `until`, day by day."""
        until = int(time.time()) if until is None else until
        day = since - since % _DAY_SECONDS
        while day <= until:
            for shard in range(DAY_SHARDS):
                pages = self._client.get_paginator("query").paginate(
                    TableName=self._table,
                    IndexName=EVENTS_BY_DAY_INDEX.name,
                    KeyConditionExpression="eventDay = :d AND created BETWEEN :a AND :b",
                    ExpressionAttributeValues={
                        ":d": {"S": f"{_day(day)}#{shard:02d}"},
                        ":a": {"N": str(since)},
                        ":b": {"N": str(until)},
                    },
                )
                for page in pages:
                    for item in page.get("Items", []):
                        version = int(item["entry"]["S"].removeprefix("v#"))
                        yield event_id(item["paymentId"]["S"], version)
            day += _DAY_SECONDS
