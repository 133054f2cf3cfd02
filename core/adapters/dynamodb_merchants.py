"""The merchant registry (core/domain/merchants.py) in DynamoDB.

One table holds two kinds of item: a merchant (key `merchant#<merchantId>`: its name, its
keys by key id, and the audit trail of every key issued and revoked) and an API key (key:
the key's digest, which is what the authorizer looks up). Each change to a merchant's keys
is one transaction over both items, with its audit entry in the same write.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core.adapters.aws_errors import error_code
from core.domain.errors import MerchantExistsError, UnknownKeyError, UnknownMerchantError
from core.domain.merchants import (
    AuditEntry,
    IssuedKey,
    KeyRecord,
    Merchant,
    MerchantRecord,
    api_key_digest,
    check_merchant,
    generate_api_key,
    is_merchant_id,
    key_id_of,
)
from core.observability import logger
from core.resources import MERCHANTS_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_KEY = MERCHANTS_TABLE.partition_key.name
_MERCHANT_ITEM_PREFIX = "merchant#"


def _merchant_key(merchant_id: str) -> dict[str, Any]:
    return {_KEY: {"S": _MERCHANT_ITEM_PREFIX + merchant_id}}


def _audit_entry(at: int, action: str, key_id: str, actor: str) -> dict[str, Any]:
    return {
        "M": {
            "at": {"N": str(at)},
            "action": {"S": action},
            "keyId": {"S": key_id},
            "actor": {"S": actor},
        }
    }


def _text(value: Any, default: str = "?") -> str:
    return (
        str(value["S"]) if isinstance(value, dict) and isinstance(value.get("S"), str) else default
    )


def _number(value: Any) -> int | None:
    try:
        return int(value["N"])
    except (KeyError, TypeError, ValueError):
        return None


def _record_from(item: dict[str, Any]) -> MerchantRecord:
    """A merchant item as ops see it; whatever part of it cannot be read is shown as "?"
    or left out, never a failure of the whole listing."""
    keys = [
        KeyRecord(
            key_id=key_id,
            created_at=_number(entry.get("M", {}).get("createdAt")) or 0,
            revoked_at=_number(entry.get("M", {}).get("revokedAt")),
        )
        for key_id, entry in item.get("keys", {}).get("M", {}).items()
        if isinstance(entry, dict)
    ]
    audit = [
        AuditEntry(
            at=_number(entry["M"].get("at")) or 0,
            action=_text(entry["M"].get("action")),
            key_id=_text(entry["M"].get("keyId")),
            actor=_text(entry["M"].get("actor")),
        )
        for entry in item.get("audit", {}).get("L", [])
        if isinstance(entry, dict) and isinstance(entry.get("M"), dict)
    ]
    return MerchantRecord(
        merchant_id=_text(item.get("merchantId")),
        name=_text(item.get("name")),
        created_at=_number(item.get("createdAt")) or 0,
        keys=sorted(keys, key=lambda key: (key.created_at, key.key_id)),
        audit=audit,
    )


class DynamoMerchantStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create_merchant(
        self,
        merchant_id: str,
        name: str,
        *,
        created_at: int,
        actor: str,
        usage_key: str | None = None,
        api_key: str | None = None,
    ) -> IssuedKey:
        """Register a new merchant with its first key; MerchantExistsError if the id is
        taken (whoever holds it keeps it, and no key of theirs is issued to anyone else).
        `api_key` registers a key chosen by the caller (the local stack's development key,
        kept across restarts) instead of a new one."""
        check_merchant(merchant_id, name)
        api_key, digest = self._new_key(api_key)
        key_id = key_id_of(digest)
        merchant_item: dict[str, Any] = _merchant_key(merchant_id) | {
            "kind": {"S": "merchant"},
            "merchantId": {"S": merchant_id},
            "name": {"S": name},
            "createdAt": {"N": str(created_at)},
            "keys": {"M": {key_id: {"M": {"createdAt": {"N": str(created_at)}}}}},
            "digests": {"M": {key_id: {"S": digest}}},
            "audit": {"L": [_audit_entry(created_at, "merchant_created", key_id, actor)]},
        }
        if usage_key:
            merchant_item["usageKey"] = {"S": usage_key}
        merchant = Merchant(merchant_id, name, usage_key)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": merchant_item,
                            "ConditionExpression": "attribute_not_exists(#key)",
                            "ExpressionAttributeNames": {"#key": _KEY},
                        }
                    },
                    self._put_key(digest, key_id, merchant, created_at),
                ]
            )
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                raise MerchantExistsError(f"merchant {merchant_id} exists already") from None
            raise
        self._log("merchant created with a key", merchant_id, key_id, actor)
        return IssuedKey(merchant, api_key, key_id)

    def add_key(self, merchant_id: str, *, created_at: int, actor: str) -> IssuedKey:
        """Another key for an existing merchant (e.g. to rotate: add, switch, revoke)."""
        item = self._merchant_item(merchant_id)
        merchant = Merchant(merchant_id, item["name"]["S"], item.get("usageKey", {}).get("S"))
        api_key, digest = self._new_key()
        key_id = key_id_of(digest)
        self._client.transact_write_items(
            TransactItems=[
                self._attach_key(
                    merchant_id,
                    {"N": str(created_at)},
                    {"S": digest},
                    _audit_entry(created_at, "key_added", key_id, actor),
                ),
                self._put_key(digest, key_id, merchant, created_at),
            ]
        )
        self._log("merchant key added", merchant_id, key_id, actor)
        return IssuedKey(merchant, api_key, key_id)

    def revoke_key(self, merchant_id: str, key_id: str, *, revoked_at: int, actor: str) -> bool:
        """The key stops working (the authorizer refuses it as unknown). Revoking a revoked
        key again changes nothing: False then."""
        item = self._merchant_item(merchant_id)
        digest = item.get("digests", {}).get("M", {}).get(key_id, {}).get("S")
        if digest is None:
            raise UnknownKeyError(f"merchant {merchant_id} has no key {key_id}")
        if "revokedAt" in item["keys"]["M"][key_id]["M"]:
            return False
        self._client.transact_write_items(
            TransactItems=[
                self._update_merchant(
                    merchant_id,
                    "SET #keys.#kid.revokedAt = :at",
                    condition="attribute_not_exists(#keys.#kid.revokedAt)",
                    values={":at": {"N": str(revoked_at)}},
                    event=_audit_entry(revoked_at, "key_revoked", key_id, actor),
                ),
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {_KEY: {"S": digest}},
                        "UpdateExpression": "SET revokedAt = :at",
                        "ConditionExpression": "merchantId = :merchant",
                        "ExpressionAttributeValues": {
                            ":at": {"N": str(revoked_at)},
                            ":merchant": {"S": merchant_id},
                        },
                    }
                },
            ]
        )
        self._log("merchant key revoked", merchant_id, key_id, actor)
        return True

    def get_merchant(self, merchant_id: str) -> MerchantRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key=_merchant_key(merchant_id), ConsistentRead=True
        ).get("Item")
        return _record_from(item) if item else None

    def list_merchants(self) -> list[MerchantRecord]:
        """Every merchant (an ops command: a scan of a small table, never on a request)."""
        records: list[MerchantRecord] = []
        scan: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#kind = :merchant",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {":merchant": {"S": "merchant"}},
        }
        while True:
            response = self._client.scan(**scan)
            records.extend(_record_from(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return sorted(records, key=lambda record: record.merchant_id)
            scan["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def find_by_api_key(self, api_key: str) -> Merchant | None:
        """The merchant of an active key; None for an unknown or revoked one."""
        response = self._client.get_item(
            TableName=self._table, Key={_KEY: {"S": api_key_digest(api_key)}}
        )
        item = response.get("Item")
        # A key issued before merchants were registered has no `kind`: still a key.
        kind = item.get("kind", {}).get("S", "key") if item else None
        if not item or "revokedAt" in item or kind != "key" or "merchantId" not in item:
            return None
        return Merchant(
            merchant_id=item["merchantId"]["S"],
            name=item["name"]["S"],
            usage_key=item.get("usageKey", {}).get("S"),
        )

    def adopt_legacy_keys(self, *, now: int, actor: str) -> list[str]:
        """Register the merchants of keys issued before merchants were registered (items
        with no `kind`), so their ids are taken and their keys listed and revocable.
        Returns the merchant ids adopted; running it again does nothing more."""
        legacy: dict[str, list[dict[str, Any]]] = {}
        scan: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "attribute_not_exists(#kind) AND attribute_exists(merchantId)",
            "ExpressionAttributeNames": {"#kind": "kind"},
        }
        while True:
            response = self._client.scan(**scan)
            for item in response.get("Items", []):
                merchant_id = _text(item.get("merchantId"), "")
                # Only what the API could use: anything else was never a working key.
                if merchant_id and is_merchant_id(merchant_id):
                    legacy.setdefault(merchant_id, []).append(item)
            if "LastEvaluatedKey" not in response:
                break
            scan["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        for merchant_id, items in sorted(legacy.items()):
            self._adopt(merchant_id, items, now=now, actor=actor)
        return sorted(legacy)

    def _adopt(
        self, merchant_id: str, items: list[dict[str, Any]], *, now: int, actor: str
    ) -> None:
        keys = {key_id_of(item[_KEY]["S"]): item for item in items}
        if self.get_merchant(merchant_id) is None:
            first = min(items, key=lambda item: int(item.get("createdAt", {}).get("N", "0")))
            merchant_item: dict[str, Any] = _merchant_key(merchant_id) | {
                "kind": {"S": "merchant"},
                "merchantId": {"S": merchant_id},
                "name": first.get("name", {"S": merchant_id}),
                "createdAt": first.get("createdAt", {"N": str(now)}),
                "keys": {"M": {}},
                "digests": {"M": {}},
                "audit": {"L": []},
            }
            if first.get("usageKey"):
                merchant_item["usageKey"] = first["usageKey"]
            self._client.put_item(
                TableName=self._table,
                Item=merchant_item,
                ConditionExpression="attribute_not_exists(#key)",
                ExpressionAttributeNames={"#key": _KEY},
            )
        for key_id, item in keys.items():
            created = item.get("createdAt", {"N": str(now)})
            self._client.transact_write_items(
                TransactItems=[
                    self._attach_key(
                        merchant_id,
                        created,
                        item[_KEY],
                        _audit_entry(now, "key_adopted", key_id, actor),
                    ),
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {_KEY: item[_KEY]},
                            "UpdateExpression": "SET #kind = :key, keyId = :kid",
                            "ConditionExpression": "attribute_not_exists(#kind)",
                            "ExpressionAttributeNames": {"#kind": "kind"},
                            "ExpressionAttributeValues": {
                                ":key": {"S": "key"},
                                ":kid": {"S": key_id},
                            },
                        }
                    },
                ]
            )
            self._log("legacy merchant key adopted", merchant_id, key_id, actor)

    def _merchant_item(self, merchant_id: str) -> dict[str, Any]:
        item = self._client.get_item(
            TableName=self._table, Key=_merchant_key(merchant_id), ConsistentRead=True
        ).get("Item")
        if not item:
            raise UnknownMerchantError(f"no merchant {merchant_id}")
        return dict(item)

    def _new_key(self, api_key: str | None = None) -> tuple[str, str]:
        api_key = api_key or generate_api_key()
        return api_key, api_key_digest(api_key)

    def _attach_key(
        self,
        merchant_id: str,
        created_at: dict[str, str],
        digest: dict[str, str],
        event: dict[str, Any],
    ) -> TransactWriteItemTypeDef:
        """An existing merchant gains a key (the event names it): its entry and digest."""
        return self._update_merchant(
            merchant_id,
            "SET #keys.#kid = :entry, #digests.#kid = :digest",
            condition="attribute_exists(#key)",
            values={":entry": {"M": {"createdAt": created_at}}, ":digest": digest},
            event=event,
        )

    def _update_merchant(
        self,
        merchant_id: str,
        update: str,
        *,
        condition: str,
        values: dict[str, Any],
        event: dict[str, Any],
    ) -> TransactWriteItemTypeDef:
        """A change to a merchant's keys (`#keys.#kid` names the key), with its audit entry
        appended in the same write."""
        key_id = next(iter(event["M"]["keyId"].values()))
        expression = f"{update}, #audit = list_append(#audit, :event)"
        names = {
            "#key": _KEY,
            "#keys": "keys",
            "#kid": key_id,
            "#digests": "digests",
            "#audit": "audit",
        }
        used = set(re.findall(r"#\w+", f"{expression} {condition}"))
        return {
            "Update": {
                "TableName": self._table,
                "Key": _merchant_key(merchant_id),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                # DynamoDB refuses names the expressions do not use.
                "ExpressionAttributeNames": {k: v for k, v in names.items() if k in used},
                "ExpressionAttributeValues": values | {":event": {"L": [event]}},
            }
        }

    def _put_key(
        self, digest: str, key_id: str, merchant: Merchant, created_at: int
    ) -> TransactWriteItemTypeDef:
        item: dict[str, Any] = {
            _KEY: {"S": digest},
            "kind": {"S": "key"},
            "keyId": {"S": key_id},
            "merchantId": {"S": merchant.merchant_id},
            "name": {"S": merchant.name},
            "createdAt": {"N": str(created_at)},
        }
        if merchant.usage_key:
            item["usageKey"] = {"S": merchant.usage_key}
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(#key)",
                "ExpressionAttributeNames": {"#key": _KEY},
            }
        }

    @staticmethod
    def _log(message: str, merchant_id: str, key_id: str, actor: str) -> None:
        # The audit trail proper is on the merchant item; this line is for log-based audit.
        logger.info(
            message,
            extra={"audit": True, "merchantId": merchant_id, "keyId": key_id, "actor": actor},
        )
