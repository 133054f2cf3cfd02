"""The one module that reads and writes the payments table.

Every write is conditional ("Optimistic locking", docs/guarantees.md): on the version read,
or on the status expected. A state change also writes a fresh write token; when its answer
is lost and botocore's retry then fails the condition, the token in the item tells our own
write from someone else's, so a lost response is never taken for a lost race.
"""

from __future__ import annotations

import contextlib
import heapq
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from core.adapters.aws_errors import is_condition_failure
from core.adapters.bucket_listing import LIST_KEY, BucketMerge
from core.adapters.partition_keys import (
    bucket_key,
    in_flight_shard,
    is_listing_key,
    listing_bounds,
    listing_key,
    merchant_bucket,
)
from core.adapters.write_tokens import (
    WRITE_TOKEN,
    new_write_token,
    refused_item_written_by,
    written_by,
)
from core.domain.errors import (
    ConcurrentUpdateError,
    InvalidCursorError,
    PaymentExistsError,
    TransitionRejectedError,
    UnreadablePaymentError,
)
from core.domain.payment import (
    CREATED_VERSION,
    CaptureMethod,
    FailureNotes,
    Payment,
    PaymentDetails,
    PaymentStatus,
    Settlement,
    SettlementKind,
    VoidReason,
)
from core.domain.ports import PaymentPage, StalledPayment
from core.domain.reconcile_policy import ReconcilePolicy
from core.domain.refunds import Refund, RefundStatus
from core.observability import logger, recorder
from core.resources import (
    BY_MERCHANT_INDEX,
    IN_FLIGHT_ATTRIBUTE,
    IN_FLIGHT_INDEX,
    PAYMENTS_TABLE,
    RECONCILE_AT_ATTRIBUTE,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEY = PAYMENTS_TABLE.partition_key.name
_CARD_CIPHERTEXT = "cardCiphertext"
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
# A listing call makes at most this many index queries per bucket (on average), so a filter
# that matches few payments costs bounded work; it answers a cursor to go on from where it
# stopped. Each query reads a chunk sized so the first round usually fills the page.
LIST_QUERIES_PER_BUCKET = 2
MIN_LIST_CHUNK = 4
FILTERED_LIST_CHUNK = 25
STALLED_PAGE_ITEMS = 100
# The in-flight index's shards are read this many at a time.
SHARD_READERS = 8


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def max_list_queries(buckets: int) -> int:
    return LIST_QUERIES_PER_BUCKET * buckets


def payment_to_item(
    payment: Payment, policy: ReconcilePolicy, layout: IndexLayout
) -> dict[str, Any]:
    values: dict[str, Any] = {
        _KEY: payment.payment_id,
        "merchantId": payment.merchant_id,
        _BUCKET: merchant_bucket(payment.merchant_id, payment.payment_id, layout.merchant_buckets),
        LIST_KEY: listing_key(payment.created_at, payment.payment_id),
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
        _CARD_CIPHERTEXT: payment.card_ciphertext,
        "enqueueFailed": payment.enqueue_failed or None,
        "reconciledAt": payment.reconciled_at,
        "captureMethod": _capture_method_value(payment.details) if payment.details else None,
        "authorizedAt": payment.authorized_at,
        "capturedAmount": payment.captured_amount,
        "voidReason": payment.void_reason.value if payment.void_reason else None,
        "settlement": _settlement_value(payment.settlement) if payment.settlement else None,
        "refunds": [_refund_value(r) for r in payment.refunds] or None,
    }
    values |= {key: value for key, value in optional.items() if value is not None}
    if payment.details is not None:
        values |= {
            attribute: getattr(payment.details, field)
            for field, attribute in _DETAIL_ATTRIBUTES.items()
        }
    if payment.failure is not None:
        values |= _failure_values(payment.failure)
    look_at = policy.next_look(payment)
    if look_at is not None:
        values |= {
            IN_FLIGHT_ATTRIBUTE: in_flight_shard(payment.payment_id, layout.in_flight_shards),
            RECONCILE_AT_ATTRIBUTE: look_at,
        }
    return _serialize(values)


def _capture_method_value(details: PaymentDetails) -> str | None:
    """Written only for a manual capture: an automatic payment's item is as it always was."""
    manual = details.capture_method is CaptureMethod.MANUAL
    return details.capture_method.value if manual else None


def _settlement_value(settlement: Settlement) -> dict[str, Any]:
    value: dict[str, Any] = {
        "kind": settlement.kind.value,
        "requestedAt": settlement.requested_at,
        "amount": settlement.amount,
    }
    if settlement.void_reason:
        value["voidReason"] = settlement.void_reason.value
    return value


def _settlement_from(value: dict[str, Any]) -> Settlement:
    reason = value.get("voidReason")
    return Settlement(
        kind=SettlementKind(value["kind"]),
        requested_at=int(value["requestedAt"]),
        amount=int(value["amount"]),
        void_reason=VoidReason(reason) if reason else None,
    )


_REFUND_OPTIONAL = {"reason": "reason", "fail_code": "failCode", "fail_reason": "failReason"}


def _refund_value(refund: Refund) -> dict[str, Any]:
    value: dict[str, Any] = {
        "refundId": refund.refund_id,
        "amount": refund.amount,
        "status": refund.status.value,
        "createdAt": refund.created_at,
        "updatedAt": refund.updated_at,
    }
    for field, attribute in _REFUND_OPTIONAL.items():
        if getattr(refund, field) is not None:
            value[attribute] = getattr(refund, field)
    return value


def _refund_from(value: dict[str, Any]) -> Refund:
    return Refund(
        refund_id=str(value["refundId"]),
        amount=int(value["amount"]),
        status=RefundStatus(value["status"]),
        created_at=int(value["createdAt"]),
        updated_at=int(value["updatedAt"]),
        **{field: value.get(attribute) for field, attribute in _REFUND_OPTIONAL.items()},
    )


def _failure_values(failure: FailureNotes) -> dict[str, Any]:
    values: dict[str, Any] = {
        "lastError": failure.reason,
        "firstErrorAt": failure.first_at,
        "lastErrorAt": failure.last_at,
        "errorCount": failure.count,
    }
    if failure.dead_letter_receives is not None:
        values["deadLetterReceives"] = failure.dead_letter_receives
    return values


def _failure_from(values: dict[str, Any]) -> FailureNotes | None:
    if "lastError" not in values:
        return None
    last_at = int(values.get("lastErrorAt", 0))
    receives = values.get("deadLetterReceives")
    return FailureNotes(
        reason=str(values["lastError"]),
        first_at=int(values.get("firstErrorAt", last_at)),
        last_at=last_at,
        count=int(values.get("errorCount", 1)),
        dead_letter_receives=int(receives) if receives is not None else None,
    )


def _details_from(values: dict[str, Any]) -> PaymentDetails | None:
    raw: dict[str, Any] = {
        field: values.get(attribute) for field, attribute in _DETAIL_ATTRIBUTES.items()
    }
    if all(value is None for value in raw.values()):
        return None
    try:
        if any(value is None for value in raw.values()):
            raise ValueError("incomplete details")
        return PaymentDetails(
            amount=int(raw["amount"]),
            currency=str(raw["currency"]),
            expiry_year=int(raw["expiry_year"]),
            expiry_month=int(raw["expiry_month"]),
            card_name=str(raw["card_name"]),
            billing_address=str(raw["billing_address"]),
            card_last_four=str(raw["card_last_four"]),
            request_digest=str(raw["request_digest"]),
            capture_method=CaptureMethod(values.get("captureMethod", CaptureMethod.AUTOMATIC)),
        )
    except (TypeError, ValueError):
        # Show what can be read (its status) and raise the alarm.
        logger.error("payment details unreadable", extra={"paymentId": values.get(_KEY)})
        recorder.count("UnreadablePayments")
        return None


def _captured_amount(
    values: dict[str, Any], status: PaymentStatus, details: PaymentDetails | None
) -> int | None:
    """What the payment captured. A payment Accepted before captures were recorded (no
    capturedAmount in its item, no manual capture then) captured its whole amount: it can
    be refunded like any other."""
    if "capturedAmount" in values:
        return int(values["capturedAmount"])
    if status is PaymentStatus.ACCEPTED and details is not None:
        return details.amount
    return None


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None


def payment_from_item(item: dict[str, Any]) -> Payment:
    """The payment an item holds; UnreadablePaymentError if its identity, owner, status or
    version cannot be read (its details, if damaged, are left out and reported)."""
    try:
        values = _deserialize(item)
        # Read straight from the wire format: botocore already gives bytes for a B value.
        ciphertext = item.get(_CARD_CIPHERTEXT, {}).get("B")
        expires_at = values.get("expiresAt")
        status = PaymentStatus(values["status"])
        details = _details_from(values)
        return Payment(
            payment_id=str(values[_KEY]),
            merchant_id=str(values["merchantId"]),
            status=status,
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
            reconciled_at=int(values["reconciledAt"]) if "reconciledAt" in values else None,
            failure=_failure_from(values),
            enqueue_failed=bool(values.get("enqueueFailed", False)),
            authorized_at=_optional_int(values.get("authorizedAt")),
            captured_amount=_captured_amount(values, status, details),
            void_reason=VoidReason(values["voidReason"]) if "voidReason" in values else None,
            settlement=_settlement_from(values["settlement"]) if "settlement" in values else None,
            refunds=tuple(_refund_from(r) for r in values.get("refunds", ())),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        payment_id = item.get(_KEY, {}).get("S") if isinstance(item.get(_KEY), dict) else None
        recorder.count("UnreadablePayments")
        raise UnreadablePaymentError(f"payment item {payment_id} cannot be read") from None


def payment_from_stream_image(image: dict[str, Any]) -> Payment:
    """The payment a stream image shows, without its card ciphertext: the image's copy of
    it is dropped unread (stream consumers never need it, and never hold it)."""
    return payment_from_item({k: v for k, v in image.items() if k != _CARD_CIPHERTEXT})


_BUCKET = BY_MERCHANT_INDEX.partition_key.name


@dataclass(frozen=True)
class IndexLayout:
    """How the payments indexes spread their keys (core/adapters/partition_keys.py)."""

    in_flight_shards: int = 1
    merchant_buckets: int = 1


def _position_of(merchant_id: str, key: str) -> str:
    """A listing key as an opaque listing position of this merchant's listing."""
    return json.dumps({"m": merchant_id, "k": key}, separators=(",", ":"), sort_keys=True)


def _key_of_position(position: str, merchant_id: str) -> str:
    """The listing key a position stands for; InvalidCursorError unless it is a position in
    this merchant's listing."""
    try:
        document = json.loads(position)
        valid = (
            isinstance(document, dict)
            and set(document) == {"m", "k"}
            and document["m"] == merchant_id
            and isinstance(document["k"], str)
            and is_listing_key(document["k"])
        )
    except (ValueError, TypeError, RecursionError):
        valid = False
    if not valid:
        raise InvalidCursorError("the cursor is not valid for this listing")
    return str(document["k"])


class DynamoPaymentStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        policy: ReconcilePolicy,
        layout: IndexLayout | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._policy = policy
        self._layout = layout or IndexLayout()

    def _item(self, payment: Payment) -> dict[str, Any]:
        return payment_to_item(payment, self._policy, self._layout)

    def add(self, payment: Payment) -> None:
        """Store a new payment; PaymentExistsError if one with its id is stored already."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(payment),
                ConditionExpression="attribute_not_exists(#key)",
                ExpressionAttributeNames={"#key": _KEY},
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise PaymentExistsError(payment.payment_id) from None
            raise

    def renew_expired(self, expired: Payment, renewed: Payment) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(renewed),
                ConditionExpression=(
                    "#status = :created AND version = :version AND expiresAt <= :now"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_serialize(
                    {
                        ":created": PaymentStatus.CREATED.value,
                        ":version": expired.version,
                        ":now": renewed.created_at,
                    }
                ),
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError(expired.payment_id) from None
            raise

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
        """Created -> Processing in ONE conditional update, on Payment.takes_card_from's
        rule (the merchant's own, Created and unchanged since, unexpired) written as its
        condition expression. Removes the TTL attribute so a paid payment can never be
        deleted by TTL."""
        token = new_write_token()
        # Submitted within its TTL of creation, so this is before its settle time (the
        # settings make sure of it).
        look_at = now + self._policy.reconcile_after_seconds
        values: dict[str, Any] = {
            ":look_at": look_at,
            ":processing": PaymentStatus.PROCESSING.value,
            ":created": PaymentStatus.CREATED.value,
            ":merchant": merchant_id,
            ":created_version": CREATED_VERSION,
            ":next_version": CREATED_VERSION + 1,
            ":now": now,
            ":ciphertext": card_ciphertext,
            ":correlation": correlation_id,
            ":in_flight": in_flight_shard(payment_id, self._layout.in_flight_shards),
            ":token": token,
        }
        detail_sets = []
        for field, attribute in _DETAIL_ATTRIBUTES.items():
            values[f":{attribute}"] = getattr(details, field)
            detail_sets.append(f"{attribute} = :{attribute}")
        capture_method = _capture_method_value(details)
        if capture_method:
            values[":capture_method"] = capture_method
            detail_sets.append("captureMethod = :capture_method")
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_serialize({_KEY: payment_id}),
                UpdateExpression=(
                    "SET #status = :processing, version = :next_version, updatedAt = :now, "
                    "cardCiphertext = :ciphertext, correlationId = :correlation, "
                    f"#in_flight = :in_flight, #reconcile_at = :look_at, #token = :token, "
                    f"{', '.join(detail_sets)} REMOVE expiresAt"
                ),
                ConditionExpression=(
                    "attribute_exists(#key) AND merchantId = :merchant AND #status = :created "
                    "AND version = :created_version AND expiresAt > :now"
                ),
                ExpressionAttributeNames={
                    "#key": _KEY,
                    "#status": "status",
                    "#in_flight": IN_FLIGHT_ATTRIBUTE,
                    "#reconcile_at": RECONCILE_AT_ATTRIBUTE,
                    "#token": WRITE_TOKEN,
                },
                ExpressionAttributeValues=_serialize(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            if old and written_by(old, token):
                # Our update applied; its answer was lost and the retry found it done.
                return payment_from_item(old)
            raise TransitionRejectedError(payment_from_item(old) if old else None) from None
        return payment_from_item(response["Attributes"])

    def save_transition(self, before: Payment, after: Payment) -> None:
        """Write `after` only if the stored payment is still at `before.version`.

        Raises ConcurrentUpdateError when someone else changed it first: re-read, never
        overwrite blindly.
        """
        if after.version != before.version + 1:
            raise ValueError("a state change raises the version by exactly one")
        token = new_write_token()
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(after) | {WRITE_TOKEN: {"S": token}},
                ConditionExpression="version = :expected",
                ExpressionAttributeValues=_serialize({":expected": before.version}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            if refused_item_written_by(error, token):
                return
            raise ConcurrentUpdateError(after.payment_id) from None

    def _update_unchanged(
        self, payment: Payment, expression: str, values: dict[str, Any], *, in_flight: bool
    ) -> None:
        """An update that is not a state change (the version stays), applied only if the
        payment is still at the version read; ConcurrentUpdateError if it moved on."""
        condition = "version = :expected"
        names: dict[str, str] = {}
        if in_flight:
            condition += " AND attribute_exists(#in_flight)"
            names["#in_flight"] = IN_FLIGHT_ATTRIBUTE
        if "#reconcile_at" in expression:
            names["#reconcile_at"] = RECONCILE_AT_ATTRIBUTE
        options: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_serialize({_KEY: payment.payment_id}),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=_serialize(values | {":expected": payment.version}),
                **options,
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise ConcurrentUpdateError(payment.payment_id) from None
            raise

    def note_failure(self, payment: Payment, reason: str, now: int) -> None:
        """Remember why processing failed (first and last time, how often), for whoever
        inspects the DLQ. A payment that moved on meanwhile is left as it is."""
        with contextlib.suppress(ConcurrentUpdateError):
            self._update_unchanged(
                payment,
                "SET lastError = :reason, lastErrorAt = :now, "
                "firstErrorAt = if_not_exists(firstErrorAt, :now) ADD errorCount :one",
                {":reason": reason, ":now": now, ":one": 1},
                in_flight=False,
            )

    def note_dead_lettered(self, payment_id: str, receives: int) -> None:
        """The job of an in-flight payment failed its last delivery: SQS moves it to the
        DLQ with this receive count (each later look at the DLQ raises the message's).
        Best effort: a note that cannot be written changes nothing else."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_serialize({_KEY: payment_id}),
                UpdateExpression="SET deadLetterReceives = :receives",
                ConditionExpression="attribute_exists(#in_flight)",
                ExpressionAttributeNames={"#in_flight": IN_FLIGHT_ATTRIBUTE},
                ExpressionAttributeValues=_serialize({":receives": receives}),
            )
        except ClientError as error:
            if not is_condition_failure(error):
                logger.warning("dead-letter note not written", extra={"paymentId": payment_id})

    def note_enqueue_failed(self, payment: Payment) -> None:
        """make-payment could not queue the job: a repeated request will."""
        self._update_unchanged(payment, "SET enqueueFailed = :yes", {":yes": True}, in_flight=True)

    def note_enqueued(self, payment: Payment) -> None:
        self._update_unchanged(payment, "REMOVE enqueueFailed", {}, in_flight=True)

    def touch_progress(self, payment: Payment, now: int) -> None:
        """Record that an in-flight payment was looked at by the reconciler (re-queued or
        found stuck), without a state change: it is not due again for a while, but in time
        to be settled before its bound. Sets absolute values, so a retry after a lost
        answer changes nothing more."""
        self._update_unchanged(
            payment,
            "SET #reconcile_at = :look_at, reconcileCount = :count, reconciledAt = :now",
            {
                ":look_at": self._policy.next_look(payment, now) or now,
                ":count": payment.reconcile_count + 1,
                ":now": now,
            },
            in_flight=True,
        )

    def note_waiting(self, payment: Payment, look_at: int) -> None:
        """Its job is still on its way (seen lately, or in the queue's backlog): the
        reconciler looks at it again at `look_at`, counting nothing."""
        self._update_unchanged(
            payment, "SET #reconcile_at = :look_at", {":look_at": look_at}, in_flight=True
        )

    def erase_card(self, payment: Payment) -> None:
        """Remove the card ciphertext without a state change (the bound on keeping it ran
        out while the bank could not be asked)."""
        self._update_unchanged(payment, "REMOVE cardCiphertext", {}, in_flight=False)

    def list_for_merchant(
        self,
        *,
        merchant_id: str,
        created_from: int,
        created_to: int,
        status: PaymentStatus | None,
        limit: int,
        after: str | None,
        now: int,
    ) -> PaymentPage:
        """One merchant's payments, newest first, merged from its byMerchant buckets.
        Expired Created payments are left out, as they are gone for the merchant.

        Bounded work: at most max_list_queries(buckets) index queries per call. A page may
        then hold fewer than `limit` payments (even none) with a position to go on from."""
        lower, upper = listing_bounds(created_from, created_to)
        skip = _key_of_position(after, merchant_id) if after else None
        values: dict[str, Any] = {
            ":lower": lower,
            ":upper": min(upper, skip) if skip else upper,
            ":created": PaymentStatus.CREATED.value,
            ":now": now,
        }
        visible = "NOT (#status = :created AND expiresAt <= :now)"
        if status is not None:
            visible += " AND #status = :status"
            values[":status"] = status.value
        buckets = self._layout.merchant_buckets
        chunk = max(MIN_LIST_CHUNK, -(-2 * limit // buckets))
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": BY_MERCHANT_INDEX.name,
            "KeyConditionExpression": "#bucket = :bucket AND #list_key BETWEEN :lower AND :upper",
            "FilterExpression": visible,
            "ExpressionAttributeNames": {
                "#status": "status",
                "#bucket": _BUCKET,
                "#list_key": LIST_KEY,
            },
            "ExpressionAttributeValues": _serialize(values),
            "ScanIndexForward": False,
            "Limit": min(limit, chunk) if status is None else max(chunk, FILTERED_LIST_CHUNK),
        }
        merge = BucketMerge(
            self._client,
            query,
            [bucket_key(merchant_id, bucket) for bucket in range(buckets)],
            budget=max_list_queries(buckets),
            skip=skip,
        )
        items, resume = merge.page(limit)
        position = _position_of(merchant_id, resume) if resume else None
        return PaymentPage(self._readable(items), position)

    @staticmethod
    def _readable(items: list[dict[str, Any]]) -> list[Payment]:
        payments = []
        for item in items:
            try:
                payments.append(payment_from_item(item))
            except UnreadablePaymentError as error:
                logger.error(
                    "unreadable payment left out of a listing", extra={"error": str(error)}
                )
        return payments

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
                status = item.get("status", {}).get("S", "unreadable")
                counts[status] = counts.get(status, 0) + 1
                seen += 1
            if "LastEvaluatedKey" not in response:
                return counts, False
            scan["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return counts, True

    def stalled_pages(
        self, now: int, page_items: int = STALLED_PAGE_ITEMS
    ) -> Iterator[list[StalledPayment]]:
        """Every in-flight payment the reconciler is due to look at by `now` (no progress
        for its threshold, or its settle time reached), longest due first across every
        shard, a page at a time, from the sparse in-flight index (never a scan)."""
        return self._in_flight_pages(page_items, due_by=now)

    def in_flight_pages(
        self, page_items: int = STALLED_PAGE_ITEMS
    ) -> Iterator[list[StalledPayment]]:
        """Every payment in flight, the soonest due first (for ops)."""
        return self._in_flight_pages(page_items, due_by=None)

    def _in_flight_pages(
        self, page_items: int, due_by: int | None
    ) -> Iterator[list[StalledPayment]]:
        """Each shard's entries in due order, merged: the first page of every shard is
        read concurrently, later pages as the merge reaches them."""
        count = self._layout.in_flight_shards
        with ThreadPoolExecutor(max_workers=min(count, SHARD_READERS)) as pool:
            first_pages = list(
                pool.map(
                    lambda shard: self._shard_page(str(shard), page_items, due_by, None),
                    range(count),
                )
            )
        shards = [
            self._shard_entries(str(shard), page_items, due_by, first)
            for shard, first in enumerate(first_pages)
        ]
        merged = heapq.merge(*shards, key=lambda entry: (entry.reconcile_at, entry.payment_id))
        page: list[StalledPayment] = []
        for entry in merged:
            page.append(entry)
            if len(page) == page_items:
                yield page
                page = []
        yield page

    def _shard_entries(
        self,
        shard: str,
        page_items: int,
        due_by: int | None,
        first: tuple[list[StalledPayment], dict[str, Any] | None],
    ) -> Iterator[StalledPayment]:
        entries, last_key = first
        while True:
            yield from entries
            if not last_key:
                return
            entries, last_key = self._shard_page(shard, page_items, due_by, last_key)

    def _shard_page(
        self, shard: str, page_items: int, due_by: int | None, start: dict[str, Any] | None
    ) -> tuple[list[StalledPayment], dict[str, Any] | None]:
        condition = "#in_flight = :shard"
        values: dict[str, Any] = {":shard": shard}
        names = {"#in_flight": IN_FLIGHT_ATTRIBUTE}
        if due_by is not None:
            condition += " AND #reconcile_at <= :due_by"
            values[":due_by"] = due_by
            names["#reconcile_at"] = RECONCILE_AT_ATTRIBUTE
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": IN_FLIGHT_INDEX.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _serialize(values),
            "Limit": page_items,
        }
        if start:
            query["ExclusiveStartKey"] = start
        response = self._client.query(**query)
        entries = []
        for item in response.get("Items", []):
            payment_id = item.get(_KEY, {}).get("S")
            due = item.get(RECONCILE_AT_ATTRIBUTE, {}).get("N", "0")
            if payment_id:
                entries.append(StalledPayment(payment_id, int(due)))
        return entries, response.get("LastEvaluatedKey")
