"""Merchants' webhook endpoints (partition key merchantId, sort key endpointId), with their
signing secrets encrypted by KMS under the endpoint's encryption context: only the
delivery worker may decrypt them (infra/functions.py). Beside a merchant's endpoints, an
item counts them, changed in the same transaction as each endpoint added or removed, so
registrations at the same moment cannot pass the limit together; another holds the
merchant's places for fast-lane sends past their patience (core/domain/webhook_retry.py)."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core.adapters.aws_errors import error_code, is_condition_failure
from core.adapters.write_tokens import WRITE_TOKEN, new_write_token, refused_item_written_by
from core.domain.errors import EndpointBusyError, TooManyEndpointsError
from core.domain.webhook_retry import SLOW_SENDS_PER_MERCHANT
from core.domain.webhooks import (
    ENDPOINT_PREFIX,
    MAX_ENDPOINTS_PER_MERCHANT,
    EndpointSecret,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        DeleteTypeDef,
        TransactWriteItemTypeDef,
    )
    from mypy_boto3_kms import KMSClient


def secret_context(merchant_id: str, endpoint_id: str) -> dict[str, str]:
    return {"merchantId": merchant_id, "endpointId": endpoint_id}


# Decrypted secrets a delivery worker instance keeps: each endpoint's secret is decrypted
# once per instance, not once per delivery (a rotated secret is a new ciphertext).
SECRET_CACHE_SIZE = 1024


class KmsSecretVault:
    def __init__(self, client: KMSClient, key_id: str) -> None:
        self._client = client
        self._key_id = key_id
        self._plain: dict[tuple[bytes, str, str], str] = {}

    def encrypt(self, secret: str, *, merchant_id: str, endpoint_id: str) -> bytes:
        return self._client.encrypt(
            KeyId=self._key_id,
            Plaintext=secret.encode(),
            EncryptionContext=secret_context(merchant_id, endpoint_id),
        )["CiphertextBlob"]

    def decrypt(self, ciphertext: bytes, *, merchant_id: str, endpoint_id: str) -> str:
        key = (ciphertext, merchant_id, endpoint_id)
        if key not in self._plain:
            if len(self._plain) >= SECRET_CACHE_SIZE:
                self._plain.pop(next(iter(self._plain)))
            self._plain[key] = self._client.decrypt(
                CiphertextBlob=ciphertext,
                KeyId=self._key_id,
                EncryptionContext=secret_context(merchant_id, endpoint_id),
            )["Plaintext"].decode()
        return self._plain[key]


def _secrets_item(secrets: tuple[EndpointSecret, ...]) -> dict[str, Any]:
    return {
        "L": [
            {
                "M": {
                    "ciphertext": {"B": s.ciphertext},
                    "createdAt": {"N": str(s.created_at)},
                    **({"retiresAt": {"N": str(s.retires_at)}} if s.retires_at else {}),
                    **({"rotationId": {"S": s.rotation_id}} if s.rotation_id else {}),
                }
            }
            for s in secrets
        ]
    }


def _endpoint_of(item: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        endpoint_id=item["endpointId"]["S"],
        merchant_id=item["merchantId"]["S"],
        url=item["url"]["S"],
        created_at=int(item["createdAt"]["N"]),
        event_types=tuple(t["S"] for t in item.get("eventTypes", {}).get("L", [])),
        revision=int(item.get("revision", {}).get("N", "0")),
        slow_until=float(item.get("slowUntil", {}).get("N", "0")),
        secrets=tuple(
            EndpointSecret(
                ciphertext=bytes(s["M"]["ciphertext"]["B"]),
                created_at=int(s["M"]["createdAt"]["N"]),
                retires_at=int(s["M"]["retiresAt"]["N"]) if "retiresAt" in s["M"] else None,
                rotation_id=s["M"].get("rotationId", {}).get("S"),
            )
            for s in item.get("secrets", {}).get("L", [])
        ),
    )


# Transactions cancelled only by a conflict with another on the same count item.
TRANSACTION_TRIES = 4
# The sort key of a merchant's count of endpoints (endpoint ids start with "we_").
_COUNT = "count"
# The sort key of the item holding a merchant's places for slow fast-lane sends: attribute
# place<n> is when its hold runs out.
_SLOW_SENDS = "slow-sends"
_ENDPOINTS_ONLY = "merchantId = :m AND begins_with(endpointId, :we)"


class DynamoEndpointStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, merchant_id: str, endpoint_id: str) -> dict[str, Any]:
        return {"merchantId": {"S": merchant_id}, "endpointId": {"S": endpoint_id}}

    def _counted(self, merchant_id: str) -> int | None:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(merchant_id, _COUNT), ConsistentRead=True
        ).get("Item")
        return int(item["endpoints"]["N"]) if item and "endpoints" in item else None

    def _count_write(self, merchant_id: str, counted: int | None) -> TransactWriteItemTypeDef:
        """One more endpoint on the count, which must still be below the limit; or, with no
        count yet (a merchant's first endpoint, or endpoints from before counts), the
        count started from the endpoints there, if no other request started it first."""
        key = self._key(merchant_id, _COUNT)
        if counted is None:
            started = len(self.list(merchant_id)) + 1
            if started > MAX_ENDPOINTS_PER_MERCHANT:
                raise TooManyEndpointsError(MAX_ENDPOINTS_PER_MERCHANT)
            return {
                "Put": {
                    "TableName": self._table,
                    "Item": key | {"endpoints": {"N": str(started)}},
                    "ConditionExpression": "attribute_not_exists(endpointId)",
                }
            }
        return {
            "Update": {
                "TableName": self._table,
                "Key": key,
                "UpdateExpression": "ADD endpoints :one",
                "ConditionExpression": "endpoints < :max",
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"},
                    ":max": {"N": str(MAX_ENDPOINTS_PER_MERCHANT)},
                },
            }
        }

    def add(self, endpoint: WebhookEndpoint) -> None:
        """TooManyEndpointsError past MAX_ENDPOINTS_PER_MERCHANT (nothing written)."""
        item = self._key(endpoint.merchant_id, endpoint.endpoint_id) | {
            "url": {"S": endpoint.url},
            "createdAt": {"N": str(endpoint.created_at)},
            "eventTypes": {"L": [{"S": t} for t in endpoint.event_types]},
            "secrets": _secrets_item(endpoint.secrets),
            "revision": {"N": str(endpoint.revision)},
        }
        put: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(endpointId)",
            }
        }
        # Twice at most: a request that found no count may find another started it.
        for _ in range(2):
            counted = self._counted(endpoint.merchant_id)
            try:
                self._transact(
                    [self._count_write(endpoint.merchant_id, counted), put], endpoint.merchant_id
                )
                return
            except ClientError as error:
                if _cancelled_by(error, 1):
                    # The new endpoint's (random) id is there already: only this add can
                    # have put it, its answer lost (DynamoDB's request token makes that
                    # retry succeed; this covers a store without one).
                    return
                if not _cancelled_by(error, 0):
                    raise
                if counted is not None:
                    break
        raise TooManyEndpointsError(MAX_ENDPOINTS_PER_MERCHANT)

    def _transact(self, items: list[TransactWriteItemTypeDef], merchant_id: str) -> None:
        """The transaction, tried again while DynamoDB cancels it only for meeting another
        on the count item at the same moment (botocore does not retry that); then
        EndpointBusyError."""
        for attempt in range(TRANSACTION_TRIES):
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except ClientError as error:
                if not _conflicted(error):
                    raise
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 (jitter)
        raise EndpointBusyError(f"the webhook endpoints of {merchant_id}")

    def get(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        if not endpoint_id.startswith(ENDPOINT_PREFIX):  # the count, the places
            return None
        item = self._client.get_item(
            TableName=self._table, Key=self._key(merchant_id, endpoint_id), ConsistentRead=True
        ).get("Item")
        return _endpoint_of(item) if item else None

    def mark_slow(self, merchant_id: str, endpoint_id: str, until: float) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(merchant_id, endpoint_id),
                UpdateExpression="SET slowUntil = :until",
                # Never brings a removed endpoint back.
                ConditionExpression="attribute_exists(endpointId)",
                ExpressionAttributeValues={":until": {"N": str(int(until))}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def hold_slow_send(self, merchant_id: str, now: float, until: float) -> int | None:
        for place in range(SLOW_SENDS_PER_MERCHANT):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(merchant_id, _SLOW_SENDS),
                    UpdateExpression="SET #place = :until",
                    ConditionExpression="attribute_not_exists(#place) OR #place <= :now",
                    ExpressionAttributeNames={"#place": f"place{place}"},
                    ExpressionAttributeValues={
                        ":until": {"N": str(until)},
                        ":now": {"N": str(now)},
                    },
                )
                return place
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
        return None

    def free_slow_send(self, merchant_id: str, place: int, until: float) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(merchant_id, _SLOW_SENDS),
                UpdateExpression="REMOVE #place",
                ConditionExpression="#place = :until",
                ExpressionAttributeNames={"#place": f"place{place}"},
                ExpressionAttributeValues={":until": {"N": str(until)}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def list(self, merchant_id: str) -> list[WebhookEndpoint]:
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression=_ENDPOINTS_ONLY,
            ExpressionAttributeValues={":m": {"S": merchant_id}, ":we": {"S": ENDPOINT_PREFIX}},
            ConsistentRead=True,
        ).get("Items", [])
        return sorted((_endpoint_of(i) for i in items), key=lambda e: e.created_at)

    def remove(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """The endpoint removed, or None if there was none (or another request removed it
        first)."""
        endpoint = self.get(merchant_id, endpoint_id)
        if endpoint is None:
            return None
        delete: DeleteTypeDef = {
            "TableName": self._table,
            "Key": self._key(merchant_id, endpoint_id),
            "ConditionExpression": "attribute_exists(endpointId)",
        }
        lower: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": self._key(merchant_id, _COUNT),
                "UpdateExpression": "ADD endpoints :minus",
                "ConditionExpression": "endpoints > :zero",
                "ExpressionAttributeValues": {":minus": {"N": "-1"}, ":zero": {"N": "0"}},
            }
        }
        # With no count to lower (endpoints from before counts), it is started from the
        # endpoints left; if another request started it first, that one is lowered.
        for count_write in (lower, None, lower):
            if count_write is None:
                left = len(self.list(merchant_id)) - 1
                count_write = {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._key(merchant_id, _COUNT) | {"endpoints": {"N": str(left)}},
                        "ConditionExpression": "attribute_not_exists(endpointId)",
                    }
                }
            try:
                self._transact([count_write, {"Delete": delete}], merchant_id)
                return endpoint
            except ClientError as error:
                if _cancelled_by(error, 1):
                    return None
                if not _cancelled_by(error, 0):
                    raise
        raise EndpointBusyError(f"webhook endpoint {endpoint_id}")

    def save_secrets(self, endpoint: WebhookEndpoint) -> bool:
        """False if the endpoint changed since it was read (its revision is not the one
        `endpoint` was read at) or is gone: nothing written."""
        token = new_write_token()
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(endpoint.merchant_id, endpoint.endpoint_id),
                UpdateExpression="SET secrets = :s, revision = :next, #token = :token",
                ConditionExpression=(
                    "attribute_exists(endpointId) AND revision = :read"
                    if endpoint.revision
                    # Endpoints from before revisions have none: read as 0.
                    else "attribute_exists(endpointId) AND "
                    "(attribute_not_exists(revision) OR revision = :read)"
                ),
                ExpressionAttributeNames={"#token": WRITE_TOKEN},
                ExpressionAttributeValues={
                    ":s": _secrets_item(endpoint.secrets),
                    ":read": {"N": str(endpoint.revision)},
                    ":next": {"N": str(endpoint.revision + 1)},
                    ":token": {"S": token},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return refused_item_written_by(error, token)
            raise
        return True


def _conflicted(error: ClientError) -> bool:
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    return any(reason.get("Code") == "TransactionConflict" for reason in reasons)


def _cancelled_by(error: ClientError, index: int) -> bool:
    """Whether a transaction was cancelled by the condition of its item `index`."""
    if error_code(error) != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    return len(reasons) > index and reasons[index].get("Code") == "ConditionalCheckFailed"
