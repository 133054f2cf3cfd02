"""Storage: the payments, merchants and bank tables, and the KMS keys for data at rest."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from core.resources import (
    BANK_CONTROL_TABLE,
    BANK_LEDGER_TABLE,
    CARD_DIGEST_KEY_ALIAS,
    CURSOR_KEY_ALIAS,
    IDEMPOTENCY_TABLE,
    MERCHANTS_TABLE,
    PAYMENTS_TABLE,
    KeyAttribute,
    TableSpec,
    card_key_alias,
    key_alias,
)

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.table_key = kms.Key(
            self,
            "TableKey",
            description=f"{prefix}: DynamoDB tables at rest",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Card data gets a key of its own: only make-payment may encrypt with it and only
        # the worker may decrypt (see functions.py).
        self.card_key = kms.Key(
            self,
            "CardKey",
            description=f"{prefix}: card data (PAN and CVV) while a payment is in flight",
            alias=card_key_alias(prefix),
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
            pending_window=Duration.days(30),
        )
        # HMAC keys (their material never leaves KMS; KMS cannot rotate HMAC keys, and a
        # rotated digest key would no longer recognize a repeated request).
        self.card_digest_key = self._mac_key(
            "CardDigestKey", prefix, CARD_DIGEST_KEY_ALIAS, "digest of make-payment requests"
        )
        self.cursor_key = self._mac_key(
            "CursorKey", prefix, CURSOR_KEY_ALIAS, "signature of list-payments cursors"
        )
        self.payments = self._table("Payments", PAYMENTS_TABLE, prefix)
        self.merchants = self._table("Merchants", MERCHANTS_TABLE, prefix)
        self.bank_ledger = self._table("BankLedger", BANK_LEDGER_TABLE, prefix)
        self.bank_control = self._table("BankControl", BANK_CONTROL_TABLE, prefix)
        self.idempotency = self._table("Idempotency", IDEMPOTENCY_TABLE, prefix)

    def _mac_key(self, construct_id: str, prefix: str, alias: str, purpose: str) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            description=f"{prefix}: {purpose} (HMAC)",
            alias=key_alias(prefix, alias),
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _table(self, construct_id: str, spec: TableSpec, prefix: str) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            construct_id,
            table_name=spec.physical_name(prefix),
            partition_key=_attribute(spec.partition_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.table_key,
            time_to_live_attribute=spec.ttl_attribute,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType(index.projection_type),
                non_key_attributes=list(index.projected) if index.projected else None,
            )
        return table
