"""Idempotency keys for merchants' POSTs (the `Idempotency-Key` header), kept in DynamoDB.

Scoped to the merchant and kept 24 hours: the same key with the same request replays the
first answer; with a different request it is refused (422); while the first request is
still running, a repeat is refused (409). Only successful answers are kept: after an error
the key is released so the merchant can fix the request and retry with the same key.

Written here rather than with powertools' idempotency utility because its persistence
layer reads the wall clock itself (so the 24-hour expiry cannot be tested with an injected
clock) and it has no notion of a merchant scope or of the 409/422 distinction we answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core.clock import Clock, epoch_seconds
from core.dynamodb_errors import is_condition_failure
from core.errors import PaygateError
from core.resources import IDEMPOTENCY_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEEP_SECONDS = 24 * 3600
# A request still "in progress" after this long died with its Lambda: the key is free again.
IN_PROGRESS_SECONDS = 60
MAX_KEY_LENGTH = 255
_KEY = IDEMPOTENCY_TABLE.partition_key.name
_IN_PROGRESS = "IN_PROGRESS"
_COMPLETED = "COMPLETED"


class IdempotencyKeyInvalidError(PaygateError):
    http_status = 400
    fail_code = "invalid_idempotency_key"


class IdempotencyKeyInUseError(PaygateError):
    http_status = 409
    fail_code = "idempotency_key_in_use"


class IdempotencyKeyReusedError(PaygateError):
    http_status = 422
    fail_code = "idempotency_key_reused"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalidError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return key


class IdempotencyStore:
    def __init__(self, client: DynamoDBClient, table_name: str, clock: Clock) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    @staticmethod
    def _scope(merchant_id: str, route: str, key: str) -> dict[str, Any]:
        return {_KEY: {"S": f"{merchant_id}#{route}#{key}"}}

    def begin(self, merchant_id: str, route: str, key: str, request: str) -> StoredAnswer | None:
        """Claim the key for this request. None: go ahead and answer, then `complete`.
        A StoredAnswer: replay it. Raises 409 while in progress, 422 for another request."""
        now = epoch_seconds(self._clock)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._scope(merchant_id, route, key)
                | {
                    "state": {"S": _IN_PROGRESS},
                    "request": {"S": request},
                    "expiresAt": {"N": str(now + KEEP_SECONDS)},
                    "lockedUntil": {"N": str(now + IN_PROGRESS_SECONDS)},
                },
                ConditionExpression=(
                    "attribute_not_exists(#key) OR expiresAt <= :now "
                    "OR (#state = :in_progress AND lockedUntil <= :now)"
                ),
                ExpressionAttributeNames={"#key": _KEY, "#state": "state"},
                ExpressionAttributeValues={
                    ":now": {"N": str(now)},
                    ":in_progress": {"S": _IN_PROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            held: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
            return self._answer_held(held, request)
        return None

    def _answer_held(self, held: dict[str, Any], request: str) -> StoredAnswer:
        if held.get("request", {}).get("S") != request:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used with a different request"
            )
        if held.get("state", {}).get("S") != _COMPLETED:
            raise IdempotencyKeyInUseError(
                "a request with this Idempotency-Key is still being processed"
            )
        return StoredAnswer(status=int(held["status"]["N"]), body=held["body"]["S"])

    def complete(self, merchant_id: str, route: str, key: str, answer: StoredAnswer) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._scope(merchant_id, route, key),
            UpdateExpression="SET #state = :completed, #status = :status, body = :body",
            ExpressionAttributeNames={"#state": "state", "#status": "status"},
            ExpressionAttributeValues={
                ":completed": {"S": _COMPLETED},
                ":status": {"N": str(answer.status)},
                ":body": {"S": answer.body},
            },
        )

    def release(self, merchant_id: str, route: str, key: str) -> None:
        self._client.delete_item(TableName=self._table, Key=self._scope(merchant_id, route, key))
