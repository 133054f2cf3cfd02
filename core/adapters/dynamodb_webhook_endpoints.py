"""Merchants' webhook endpoints (partition key merchantId, sort key endpointId), with their
signing secrets encrypted by KMS under the endpoint's encryption context: only the
delivery worker may decrypt them (infra/functions.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core.domain.errors import TooManyEndpointsError
from core.domain.webhooks import MAX_ENDPOINTS_PER_MERCHANT, EndpointSecret, WebhookEndpoint

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
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
        secrets=tuple(
            EndpointSecret(
                ciphertext=bytes(s["M"]["ciphertext"]["B"]),
                created_at=int(s["M"]["createdAt"]["N"]),
                retires_at=int(s["M"]["retiresAt"]["N"]) if "retiresAt" in s["M"] else None,
            )
            for s in item.get("secrets", {}).get("L", [])
        ),
    )


class DynamoEndpointStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, merchant_id: str, endpoint_id: str) -> dict[str, Any]:
        return {"merchantId": {"S": merchant_id}, "endpointId": {"S": endpoint_id}}

    def add(self, endpoint: WebhookEndpoint) -> None:
        """TooManyEndpointsError past MAX_ENDPOINTS_PER_MERCHANT (nothing written)."""
        if len(self.list(endpoint.merchant_id)) >= MAX_ENDPOINTS_PER_MERCHANT:
            raise TooManyEndpointsError(MAX_ENDPOINTS_PER_MERCHANT)
        self._client.put_item(
            TableName=self._table,
            Item=self._key(endpoint.merchant_id, endpoint.endpoint_id)
            | {
                "url": {"S": endpoint.url},
                "createdAt": {"N": str(endpoint.created_at)},
                "eventTypes": {"L": [{"S": t} for t in endpoint.event_types]},
                "secrets": _secrets_item(endpoint.secrets),
            },
            ConditionExpression="attribute_not_exists(endpointId)",
        )

    def get(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(merchant_id, endpoint_id), ConsistentRead=True
        ).get("Item")
        return _endpoint_of(item) if item else None

    def list(self, merchant_id: str) -> list[WebhookEndpoint]:
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression="merchantId = :m",
            ExpressionAttributeValues={":m": {"S": merchant_id}},
            ConsistentRead=True,
        ).get("Items", [])
        return sorted((_endpoint_of(i) for i in items), key=lambda e: e.created_at)

    def remove(self, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """The endpoint removed, or None if there was none."""
        old = self._client.delete_item(
            TableName=self._table, Key=self._key(merchant_id, endpoint_id), ReturnValues="ALL_OLD"
        ).get("Attributes")
        return _endpoint_of(old) if old else None

    def save_secrets(self, endpoint: WebhookEndpoint) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(endpoint.merchant_id, endpoint.endpoint_id),
                UpdateExpression="SET secrets = :s",
                ConditionExpression="attribute_exists(endpointId)",
                ExpressionAttributeValues={":s": _secrets_item(endpoint.secrets)},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
