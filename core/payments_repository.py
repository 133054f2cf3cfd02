"""The one module that reads and writes the payments table.

Every write is conditional (invariant 3): on the version read, or on the status expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from core.dynamodb_errors import is_condition_failure
from core.errors import ConcurrentUpdateError
from core.payment import CREATED_VERSION, Payment, PaymentDetails, PaymentStatus
from core.resources import (
    BY_MERCHANT_INDEX,
    IN_FLIGHT_ATTRIBUTE,
    IN_FLIGHT_INDEX,
    IN_FLIGHT_MARKER,
    PAYMENTS_TABLE,
    PROGRESS_AT_ATTRIBUTE,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEY = PAYMENTS_TABLE.partition_key.name
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

_DETAIL_ATTRIBUTES = {
    "amount": "amount",
    "currency": "currency",
    "expiry_year": "expiryYear",
    "expiry_month": "expiryMonth",
    "card_name": "cardName",
    "billing_address": "billingAddress",
    "card_last_four": "cardLastFour",
    "request_digest": "requestDigest",
}


class TransitionRejectedError(Exception):
    """make-payment's conditional update did not apply; `current` is the item as it was."""

    def __init__(self, current: Payment | None) -> None:
        super().__init__("payment is not an unexpired Created payment of this merchant")
        self.current = current


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def payment_to_item(payment: Payment) -> dict[str, Any]:
    values: dict[str, Any] = {
        _KEY: payment.payment_id,
        "merchantId": payment.merchant_id,
        "status": payment.status.value,
        "version": payment.version,
        "createdAt": payment.created_at,
        "updatedAt": payment.updated_at,
        "bankChecks": payment.bank_checks,
        "reconcileCount": payment.reconcile_count,
    }
    optional = {
        "expiresAt": payment.expires_at,
        "correlationId": payment.correlation_id,
        "failCode": payment.fail_code,
        "failReason": payment.fail_reason,
        "cardCiphertext": payment.card_ciphertext,
        "lastError": payment.last_error,
    }
    values |= {key: value for key, value in optional.items() if value is not None}
    if payment.details is not None:
        values |= {
            attribute: getattr(payment.details, field)
            for field, attribute in _DETAIL_ATTRIBUTES.items()
        }
    if payment.status.is_in_flight:
        values |= {IN_FLIGHT_ATTRIBUTE: IN_FLIGHT_MARKER, PROGRESS_AT_ATTRIBUTE: payment.updated_at}
    return _serialize(values)


def payment_from_item(item: dict[str, Any]) -> Payment:
    values = _deserialize(item)
    details = None
    if "amount" in values:
        raw = {field: values[attribute] for field, attribute in _DETAIL_ATTRIBUTES.items()}
        details = PaymentDetails(
            amount=int(raw["amount"]),
            currency=str(raw["currency"]),
            expiry_year=int(raw["expiry_year"]),
            expiry_month=int(raw["expiry_month"]),
            card_name=str(raw["card_name"]),
            billing_address=str(raw["billing_address"]),
            card_last_four=str(raw["card_last_four"]),
            request_digest=str(raw["request_digest"]),
        )
    # Read straight from the wire format: botocore already gives bytes for a B value.
    ciphertext = item.get("cardCiphertext", {}).get("B")
    expires_at = values.get("expiresAt")
    return Payment(
        payment_id=str(values[_KEY]),
        merchant_id=str(values["merchantId"]),
        status=PaymentStatus(values["status"]),
        version=int(values["version"]),
        created_at=int(values["createdAt"]),
        updated_at=int(values["updatedAt"]),
        expires_at=int(expires_at) if expires_at is not None else None,
        details=details,
        card_ciphertext=bytes(ciphertext) if ciphertext is not None else None,
        correlation_id=values.get("correlationId"),
        fail_code=values.get("failCode"),
        fail_reason=values.get("failReason"),
        bank_checks=int(values.get("bankChecks", 0)),
        reconcile_count=int(values.get("reconcileCount", 0)),
        last_error=values.get("lastError"),
    )


@dataclass(frozen=True)
class PaymentPage:
    payments: list[Payment]
    # Where the next page starts (a DynamoDB key), or None on the last page.
    last_key: dict[str, Any] | None


@dataclass(frozen=True)
class StalledPayment:
    payment_id: str
    progress_at: int


class PaymentsRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add(self, payment: Payment) -> None:
        """Store a new payment; never overwrites one with the same id."""
        self._client.put_item(
            TableName=self._table,
            Item=payment_to_item(payment),
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": _KEY},
        )

    def get(self, payment_id: str) -> Payment | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_serialize({_KEY: payment_id}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return payment_from_item(item) if item else None

    def mark_processing(
        self,
        *,
        payment_id: str,
        merchant_id: str,
        details: PaymentDetails,
        card_ciphertext: bytes,
        correlation_id: str,
        now: int,
    ) -> Payment:
        """Created -> Processing in ONE conditional update: the payment must belong to the
        merchant, be Created, unexpired and unchanged since creation. Removes the TTL
        attribute so a paid payment can never be deleted by TTL."""
        values: dict[str, Any] = {
            ":processing": PaymentStatus.PROCESSING.value,
            ":created": PaymentStatus.CREATED.value,
            ":merchant": merchant_id,
            ":created_version": CREATED_VERSION,
            ":next_version": CREATED_VERSION + 1,
            ":now": now,
            ":ciphertext": card_ciphertext,
            ":correlation": correlation_id,
            ":in_flight": IN_FLIGHT_MARKER,
        }
        detail_sets = []
        for field, attribute in _DETAIL_ATTRIBUTES.items():
            values[f":{attribute}"] = getattr(details, field)
            detail_sets.append(f"{attribute} = :{attribute}")
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_serialize({_KEY: payment_id}),
                UpdateExpression=(
                    "SET #status = :processing, version = :next_version, updatedAt = :now, "
                    "cardCiphertext = :ciphertext, correlationId = :correlation, "
                    f"#in_flight = :in_flight, #progress_at = :now, {', '.join(detail_sets)} "
                    "REMOVE expiresAt"
                ),
                ConditionExpression=(
                    "attribute_exists(#key) AND merchantId = :merchant AND #status = :created "
                    "AND version = :created_version AND expiresAt > :now"
                ),
                ExpressionAttributeNames={
                    "#key": _KEY,
                    "#status": "status",
                    "#in_flight": IN_FLIGHT_ATTRIBUTE,
                    "#progress_at": PROGRESS_AT_ATTRIBUTE,
                },
                ExpressionAttributeValues=_serialize(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            raise TransitionRejectedError(payment_from_item(old) if old else None) from None
        return payment_from_item(response["Attributes"])

    def save_transition(self, before: Payment, after: Payment) -> None:
        """Write `after` only if the stored payment is still at `before.version`.

        Raises ConcurrentUpdateError when someone else changed it first: re-read, never
        overwrite blindly.
        """
        if after.version != before.version + 1:
            raise ValueError("a state change raises the version by exactly one")
        try:
            self._client.put_item(
                TableName=self._table,
                Item=payment_to_item(after),
                ConditionExpression="version = :expected",
                ExpressionAttributeValues=_serialize({":expected": before.version}),
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError(after.payment_id) from None
            raise

    def note_failure(self, payment: Payment, reason: str, now: int) -> None:
        """Remember why processing failed, for whoever inspects the DLQ. Not a state change:
        the version stays; a payment that moved on meanwhile is left as it is."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_serialize({_KEY: payment.payment_id}),
                UpdateExpression="SET lastError = :reason, lastErrorAt = :now",
                ConditionExpression="version = :expected",
                ExpressionAttributeValues=_serialize(
                    {":reason": reason, ":now": now, ":expected": payment.version}
                ),
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def touch_progress(self, payment: Payment, now: int) -> None:
        """Record that an in-flight payment was re-enqueued, without a state change."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_serialize({_KEY: payment.payment_id}),
                UpdateExpression="SET #progress_at = :now ADD reconcileCount :one",
                ConditionExpression="version = :expected AND attribute_exists(#in_flight)",
                ExpressionAttributeNames={
                    "#progress_at": PROGRESS_AT_ATTRIBUTE,
                    "#in_flight": IN_FLIGHT_ATTRIBUTE,
                },
                ExpressionAttributeValues=_serialize(
                    {":now": now, ":expected": payment.version, ":one": 1}
                ),
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError(payment.payment_id) from None
            raise

    def list_for_merchant(
        self,
        *,
        merchant_id: str,
        created_from: int,
        created_to: int,
        status: PaymentStatus | None,
        limit: int,
        start_key: dict[str, Any] | None,
        now: int,
    ) -> PaymentPage:
        """One merchant's payments, newest first, from the byMerchant index. Expired Created
        payments are left out, as they are gone for the merchant."""
        values: dict[str, Any] = {
            ":merchant": merchant_id,
            ":from": created_from,
            ":to": created_to,
            ":created": PaymentStatus.CREATED.value,
            ":now": now,
        }
        visible = "NOT (#status = :created AND expiresAt <= :now)"
        if status is not None:
            visible += " AND #status = :status"
            values[":status"] = status.value
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_MERCHANT_INDEX.name,
            "KeyConditionExpression": "merchantId = :merchant AND createdAt BETWEEN :from AND :to",
            "FilterExpression": visible,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _serialize(values),
            "ScanIndexForward": False,
        }
        if start_key:
            query["ExclusiveStartKey"] = start_key
        items, last_key = self._query_up_to(query, limit)
        return PaymentPage(payments=[payment_from_item(item) for item in items], last_key=last_key)

    def count_by_status(self, max_items: int) -> tuple[dict[str, int], bool]:
        """Payments per status, for the ops `status` command: a bounded scan of one small
        attribute (never used on a request path). Returns the counts and whether it stopped
        at max_items before the end of the table."""
        counts: dict[str, int] = {}
        seen = 0
        scan: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "#status",
            "ExpressionAttributeNames": {"#status": "status"},
        }
        while seen < max_items:
            response = self._client.scan(**scan, Limit=min(1000, max_items - seen))
            for item in response.get("Items", []):
                status = item["status"]["S"]
                counts[status] = counts.get(status, 0) + 1
                seen += 1
            if "LastEvaluatedKey" not in response:
                return counts, False
            scan["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return counts, True

    def find_stalled(self, progress_before: int, limit: int) -> list[StalledPayment]:
        """In-flight payments whose last progress is older than `progress_before`, oldest
        first, from the sparse in-flight index (never a table scan)."""
        stalled: list[StalledPayment] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": IN_FLIGHT_INDEX.name,
            "KeyConditionExpression": "#in_flight = :marker AND #progress_at < :before",
            "ExpressionAttributeNames": {
                "#in_flight": IN_FLIGHT_ATTRIBUTE,
                "#progress_at": PROGRESS_AT_ATTRIBUTE,
            },
            "ExpressionAttributeValues": _serialize(
                {":marker": IN_FLIGHT_MARKER, ":before": progress_before}
            ),
        }
        items, _ = self._query_up_to(query, limit)
        for item in items:
            values = _deserialize(item)
            stalled.append(StalledPayment(str(values[_KEY]), int(values[PROGRESS_AT_ATTRIBUTE])))
        return stalled

    def _query_up_to(
        self, query: dict[str, Any], limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Up to `limit` items of a query, following its pages (a filter can leave a page
        short), and the key to resume from, or None when the query is exhausted."""
        items: list[dict[str, Any]] = []
        last_key: dict[str, Any] | None = None
        while len(items) < limit:
            response = self._client.query(**query, Limit=limit - len(items))
            items.extend(response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                break
            query = query | {"ExclusiveStartKey": last_key}
        return items, last_key
