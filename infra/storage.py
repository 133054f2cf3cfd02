"""Storage: the payments, merchants and bank tables, and the KMS keys for data at rest."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from core.resources import (
    BANK_CONTROL_TABLE,
    BANK_LEDGER_TABLE,
    CARD_DIGEST_KEY_ALIAS,
    CARD_KEYS_TABLE,
    CURSOR_KEY_ALIAS,
    EVENTS_TABLE,
    IDEMPOTENCY_DIGEST_KEY_ALIAS,
    IDEMPOTENCY_TABLE,
    MERCHANTS_TABLE,
    PAYMENTS_TABLE,
    WEBHOOK_ENDPOINTS_TABLE,
    WEBHOOK_SECRET_KEY_ALIAS,
    KeyAttribute,
    TableSpec,
    card_key_alias,
    key_alias,
)
from infra.keys import AdministeredKey, ServiceKey
from infra.scaling import WARM_THROUGHPUT
from infra.stages import StageProfile

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


class Storage(Construct):
    """Tables and keys have no fixed names (CloudFormation generates them; the CLI reads
    them from the stack's outputs), so a rolled-back create or a replacement never collides
    with what an earlier attempt left; how long they outlive the stack is the stage's."""

    def __init__(
        self, scope: Construct, construct_id: str, *, prefix: str, stage: StageProfile
    ) -> None:
        super().__init__(scope, construct_id)
        self._stage = stage
        self.table_key = ServiceKey(
            self,
            "TableKey",
            service="dynamodb",
            description=f"{prefix}: DynamoDB tables at rest",
            removal_policy=stage.data_removal,
        )
        # Card data gets a key of its own: only make-payment may encrypt with it and only
        # the worker may decrypt, by its key policy (see functions.py).
        self.card_key = AdministeredKey(
            self,
            "CardKey",
            description=f"{prefix}: card data (PAN and CVV) while a payment is in flight",
            alias=card_key_alias(prefix),
            removal_policy=stage.data_removal,
        )
        self.logs_key = self._logs_key(prefix)
        # Merchants' webhook signing secrets: the endpoints API encrypts, only the delivery
        # worker decrypts, each with the endpoint's encryption context.
        self.webhook_secret_key = kms.Key(
            self,
            "WebhookSecretKey",
            description=f"{prefix}: webhook signing secrets",
            alias=key_alias(prefix, WEBHOOK_SECRET_KEY_ALIAS),
            enable_key_rotation=True,
            removal_policy=stage.data_removal,
        )
        # HMAC keys (their material never leaves KMS; KMS cannot rotate HMAC keys, and a
        # rotated digest key would no longer recognize a repeated request).
        self.card_digest_key = self._mac_key(
            "CardDigestKey", prefix, CARD_DIGEST_KEY_ALIAS, "digest of make-payment requests"
        )
        self.cursor_key = self._mac_key(
            "CursorKey", prefix, CURSOR_KEY_ALIAS, "signature of list-payments cursors"
        )
        self.idempotency_digest_key = self._mac_key(
            "IdempotencyDigestKey",
            prefix,
            IDEMPOTENCY_DIGEST_KEY_ALIAS,
            "digest under which Idempotency-Keys are kept",
        )
        self.payments = self._table("Payments", PAYMENTS_TABLE)
        self.merchants = self._table("Merchants", MERCHANTS_TABLE)
        self.bank_ledger = self._table("BankLedger", BANK_LEDGER_TABLE)
        self.bank_control = self._table("BankControl", BANK_CONTROL_TABLE)
        self.idempotency = self._table("Idempotency", IDEMPOTENCY_TABLE)
        self.events = self._table("Events", EVENTS_TABLE)
        self.webhook_endpoints = self._table("WebhookEndpoints", WEBHOOK_ENDPOINTS_TABLE)
        self.card_keys = self._table("CardKeys", CARD_KEYS_TABLE)

    def _mac_key(self, construct_id: str, prefix: str, alias: str, purpose: str) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            description=f"{prefix}: {purpose} (HMAC)",
            alias=key_alias(prefix, alias),
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            removal_policy=self._stage.data_removal,
        )

    def _logs_key(self, prefix: str) -> kms.Key:
        """CloudWatch Logs encrypts every paygate log group with it: the functions' logs sit
        next to card data (masked, never plain, but card-adjacent), and the access log names
        merchants. Only this account's log groups may use it, through CloudWatch Logs."""
        key = kms.Key(
            self,
            "LogsKey",
            description=f"{prefix}: CloudWatch log groups",
            enable_key_rotation=True,
            removal_policy=self._stage.data_removal,
        )
        stack = Stack.of(self)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        return key

    def _table(self, construct_id: str, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            construct_id,
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if spec.streamed else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=self._stage.deletion_protection,
            removal_policy=self._stage.data_removal,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.table_key,
            time_to_live_attribute=spec.ttl_attribute,
            warm_throughput=self._warm(spec.logical_name),
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType(index.projection_type),
                non_key_attributes=list(index.projected) if index.projected else None,
                warm_throughput=self._warm(f"{spec.logical_name}.{index.name}"),
            )
        return table

    def _warm(self, target: str) -> dynamodb.WarmThroughput | None:
        """A prod stage's tables serve the peak from the start (infra/scaling.py)."""
        if not self._stage.warm_tables or target not in WARM_THROUGHPUT:
            return None
        reads, writes = WARM_THROUGHPUT[target]
        return dynamodb.WarmThroughput(read_units_per_second=reads, write_units_per_second=writes)
