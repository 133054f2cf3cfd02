"""The idempotency store (core/domain/idempotency.py) in DynamoDB.

The key itself is never kept: only its keyed digest (core/adapters/derived_digests.py), so a
merchant may send any key it likes, card-like digits included, and nothing at rest holds it.

Written here rather than with powertools' idempotency utility because its persistence
layer reads the wall clock itself (so the 24-hour expiry cannot be tested with an injected
clock) and it has no notion of a merchant scope or of the 409/422 distinction we answer.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from core.adapters.aws_errors import is_condition_failure, is_transient
from core.adapters.derived_digests import DerivedKeyDigests
from core.domain.clock import Clock, epoch_seconds
from core.domain.errors import IdempotencyKeyInUseError, IdempotencyKeyReusedError
from core.domain.idempotency import IN_PROGRESS_SECONDS, KEEP_SECONDS, Claim, StoredAnswer
from core.resources import IDEMPOTENCY_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COMPLETE_ATTEMPTS = 3
_KEY = IDEMPOTENCY_TABLE.partition_key.name
_IN_PROGRESS = "IN_PROGRESS"
_COMPLETED = "COMPLETED"


class DynamoIdempotencyStore:
    def __init__(
        self, client: DynamoDBClient, table_name: str, clock: Clock, digests: DerivedKeyDigests
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._digests = digests

    def _scope(self, merchant_id: str, route: str, key: str) -> dict[str, Any]:
        scope = f"{merchant_id}#{route}"
        return {_KEY: {"S": f"{scope}#{self._digests.digest(f'{scope}#{key}')}"}}

    def begin(self, merchant_id: str, route: str, key: str, request: str) -> StoredAnswer | Claim:
        """Claim the key for this request: a Claim means go ahead, answer, then `complete`;
        a StoredAnswer means replay it. Raises 409 while the first request is still running
        (for IN_PROGRESS_SECONDS at most), 422 for another request with the same key."""
        now = epoch_seconds(self._clock)
        claim = Claim(uuid.uuid4().hex)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._scope(merchant_id, route, key)
                | {
                    "state": {"S": _IN_PROGRESS},
                    "request": {"S": request},
                    "claim": {"S": claim.claim_id},
                    "expiresAt": {"N": str(now + KEEP_SECONDS)},
                    "lockedUntil": {"N": str(now + IN_PROGRESS_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(#key) OR expiresAt <= :now",
                ExpressionAttributeNames={"#key": _KEY},
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            held: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
            return self._answer_held(held, request, now) or self._take_over(
                merchant_id, route, key, now
            )
        return claim

    def _answer_held(self, held: dict[str, Any], request: str, now: int) -> StoredAnswer | None:
        """What a request finds when the key is held: a replay, a refusal, or None when the
        first request died before completing (its lock ran out) and this one may go on."""
        held_request = str(held.get("request", {}).get("S", ""))
        if held_request != request:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used with a different request",
                held_request=held_request,
            )
        if held.get("state", {}).get("S") == _COMPLETED:
            return StoredAnswer(status=int(held["status"]["N"]), body=held["body"]["S"])
        if int(held.get("lockedUntil", {}).get("N", "0")) > now:
            raise IdempotencyKeyInUseError(
                "a request with this Idempotency-Key is still being processed"
            )
        return None

    def _take_over(self, merchant_id: str, route: str, key: str, now: int) -> Claim:
        """Continue the work of a request that died holding the key, under ITS claim id, so
        whatever it already did (a payment it created) is found again, never done twice."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._scope(merchant_id, route, key),
                UpdateExpression="SET lockedUntil = :locked, claim = if_not_exists(claim, :fresh)",
                ConditionExpression="#state = :in_progress AND lockedUntil <= :now",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":locked": {"N": str(now + IN_PROGRESS_SECONDS)},
                    ":fresh": {"S": uuid.uuid4().hex},
                    ":in_progress": {"S": _IN_PROGRESS},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            raise IdempotencyKeyInUseError(
                "a request with this Idempotency-Key is still being processed"
            ) from None
        return Claim(response["Attributes"]["claim"]["S"])

    @retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(COMPLETE_ATTEMPTS),
        wait=wait_exponential_jitter(multiplier=0.05, max=0.5),
        reraise=True,
    )
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

    @retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(COMPLETE_ATTEMPTS),
        wait=wait_exponential_jitter(multiplier=0.05, max=0.5),
        reraise=True,
    )
    def release(self, merchant_id: str, route: str, key: str) -> None:
        """The request was refused (4xx): nothing was done, the key is free for a fixed one."""
        self._client.delete_item(TableName=self._table, Key=self._scope(merchant_id, route, key))

    def unlock(self, merchant_id: str, route: str, key: str) -> None:
        """The request failed (5xx) and may have done part of its work: keep its claim, so a
        retry takes it over at once and finds that work again."""
        now = epoch_seconds(self._clock)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._scope(merchant_id, route, key),
                UpdateExpression="SET lockedUntil = :now",
                ConditionExpression="#state = :in_progress",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":now": {"N": str(now)},
                    ":in_progress": {"S": _IN_PROGRESS},
                },
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
