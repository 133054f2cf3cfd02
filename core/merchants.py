"""Merchants and their API keys. Keys are shown once; only their SHA-256 digest is kept."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.resources import MERCHANTS_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Where the authorizer puts the caller's merchantId for the handlers (requestContext).
MERCHANT_CONTEXT_KEY = "merchantId"
API_KEY_PREFIX = "pg_"
# 32 random bytes: 256 bits, far beyond guessing.
API_KEY_BYTES = 32
_KEY = MERCHANTS_TABLE.partition_key.name


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(API_KEY_BYTES)


def api_key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    name: str
    # On AWS: the value of the merchant's API Gateway key, which the authorizer hands to
    # API Gateway so the usage plan throttles each merchant on its own.
    usage_key: str | None = None


@dataclass(frozen=True)
class IssuedKey:
    merchant: Merchant
    api_key: str


class MerchantStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def issue_key(
        self, merchant_id: str, name: str, created_at: int, usage_key: str | None = None
    ) -> IssuedKey:
        api_key = generate_api_key()
        item = {
            _KEY: {"S": api_key_digest(api_key)},
            "merchantId": {"S": merchant_id},
            "name": {"S": name},
            "createdAt": {"N": str(created_at)},
        }
        if usage_key:
            item["usageKey"] = {"S": usage_key}
        self._client.put_item(
            TableName=self._table,
            Item=item,
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": _KEY},
        )
        return IssuedKey(Merchant(merchant_id, name, usage_key), api_key)

    def find_by_api_key(self, api_key: str) -> Merchant | None:
        response = self._client.get_item(
            TableName=self._table, Key={_KEY: {"S": api_key_digest(api_key)}}
        )
        item = response.get("Item")
        if not item:
            return None
        return Merchant(
            merchant_id=item["merchantId"]["S"],
            name=item["name"]["S"],
            usage_key=item.get("usageKey", {}).get("S"),
        )
