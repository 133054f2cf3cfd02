"""Creates paygate's tables, queues and key from core.resources through boto3.

Used where CloudFormation is not: the local stack (moto server) and the tests (moto
in-process). The CDK stack builds the same resources from the same specs in infra/.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from core.resources import (
    ALL_TABLES,
    BANK_CONTROL_TABLE,
    BANK_LEDGER_TABLE,
    CARD_DIGEST_KEY_ALIAS,
    CARD_KEYS_TABLE,
    CURSOR_KEY_ALIAS,
    DELIVERIES_DLQ,
    DELIVERIES_QUEUE,
    EVENTS_TABLE,
    IDEMPOTENCY_DIGEST_KEY_ALIAS,
    IDEMPOTENCY_TABLE,
    JOBS_DLQ,
    JOBS_QUEUE,
    MAX_RECEIVE_COUNT,
    MERCHANTS_TABLE,
    PAYMENTS_TABLE,
    SLOW_DELIVERIES_QUEUE,
    STREAM_FAILURES_QUEUE,
    WEBHOOK_ENDPOINTS_TABLE,
    WEBHOOK_SECRET_KEY_ALIAS,
    EnvVar,
    IndexSpec,
    KeyAttribute,
    QueueSpec,
    TableSpec,
    card_key_alias,
    key_alias,
)
from core.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient


def _projection(index: IndexSpec) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection_type}
    if index.projected:
        projection["NonKeyAttributes"] = list(index.projected)
    return projection


def create_table(client: DynamoDBClient, spec: TableSpec, prefix: str) -> str:
    name = spec.physical_name(prefix)
    keys: list[KeyAttribute] = [spec.partition_key, *([spec.sort_key] if spec.sort_key else [])]
    for index in spec.indexes:
        keys.append(index.partition_key)
        if index.sort_key:
            keys.append(index.sort_key)
    definitions = {key.name: key.type for key in keys}
    options: dict[str, Any] = {}
    if spec.indexes:
        options["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
                + (
                    [{"AttributeName": index.sort_key.name, "KeyType": "RANGE"}]
                    if index.sort_key
                    else []
                ),
                "Projection": _projection(index),
            }
            for index in spec.indexes
        ]
    if spec.streamed:
        options["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    key_schema: list[Any] = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
    if spec.sort_key:
        key_schema.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
    client.create_table(
        TableName=name,
        KeySchema=key_schema,
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": kind}
            for attribute, kind in definitions.items()
        ],
        BillingMode="PAY_PER_REQUEST",
        **options,
    )
    if spec.ttl_attribute:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
    return name


def create_queues(
    client: SQSClient, prefix: str, queue: QueueSpec = JOBS_QUEUE, dlq: QueueSpec = JOBS_DLQ
) -> tuple[str, str]:
    """A queue and its DLQ with the redrive policy; returns (queue url, dlq url)."""
    dlq_url = create_queue(client, dlq, prefix)
    return create_redriven_queue(client, prefix, queue, dlq_url), dlq_url


def create_redriven_queue(client: SQSClient, prefix: str, queue: QueueSpec, dlq_url: str) -> str:
    """A queue whose messages go to the DLQ at `dlq_url` after MAX_RECEIVE_COUNT receives."""
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return client.create_queue(
        QueueName=queue.physical_name(prefix),
        Attributes={
            "MessageRetentionPeriod": str(queue.retention_seconds),
            "VisibilityTimeout": str(queue.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]


def create_queue(client: SQSClient, spec: QueueSpec, prefix: str) -> str:
    """A queue with no DLQ (it is one: where a service leaves what it could not deliver)."""
    return client.create_queue(
        QueueName=spec.physical_name(prefix),
        Attributes={
            "MessageRetentionPeriod": str(spec.retention_seconds),
            "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        },
    )["QueueUrl"]


def create_card_key(client: KMSClient, prefix: str) -> str:
    return create_encryption_key(client, card_key_alias(prefix), f"{prefix} card data")


def create_encryption_key(client: KMSClient, alias: str, description: str) -> str:
    key_id = client.create_key(Description=description, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"][
        "KeyId"
    ]
    client.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def create_mac_key(client: KMSClient, prefix: str, alias: str) -> str:
    key_id = client.create_key(
        Description=f"{prefix} {alias}", KeyUsage="GENERATE_VERIFY_MAC", KeySpec="HMAC_256"
    )["KeyMetadata"]["KeyId"]
    client.create_alias(AliasName=key_alias(prefix, alias), TargetKeyId=key_id)
    return key_id


def provision(
    *,
    dynamodb: DynamoDBClient,
    sqs: SQSClient,
    kms: KMSClient,
    prefix: str,
    region: str,
    endpoint_url: str | None = None,
) -> tuple[Settings, str]:
    """Create everything; returns the settings the Lambdas need and the DLQ url."""
    for spec in ALL_TABLES:
        create_table(dynamodb, spec, prefix)
    jobs_url, dlq_url = create_queues(sqs, prefix)
    deliveries_url, deliveries_dlq_url = create_queues(
        sqs, prefix, DELIVERIES_QUEUE, DELIVERIES_DLQ
    )
    slow_deliveries_url = create_redriven_queue(
        sqs, prefix, SLOW_DELIVERIES_QUEUE, deliveries_dlq_url
    )
    create_queue(sqs, STREAM_FAILURES_QUEUE, prefix)
    key_id = create_card_key(kms, prefix)
    env = {
        EnvVar.PAYMENTS_TABLE: PAYMENTS_TABLE.physical_name(prefix),
        EnvVar.MERCHANTS_TABLE: MERCHANTS_TABLE.physical_name(prefix),
        EnvVar.BANK_LEDGER_TABLE: BANK_LEDGER_TABLE.physical_name(prefix),
        EnvVar.BANK_CONTROL_TABLE: BANK_CONTROL_TABLE.physical_name(prefix),
        EnvVar.IDEMPOTENCY_TABLE: IDEMPOTENCY_TABLE.physical_name(prefix),
        EnvVar.JOBS_QUEUE_URL: jobs_url,
        EnvVar.CARD_KEY_ID: key_id,
        EnvVar.CARD_DIGEST_KEY_ID: create_mac_key(kms, prefix, CARD_DIGEST_KEY_ALIAS),
        EnvVar.CARD_KEYS_TABLE: CARD_KEYS_TABLE.physical_name(prefix),
        EnvVar.CURSOR_KEY_ID: create_mac_key(kms, prefix, CURSOR_KEY_ALIAS),
        EnvVar.IDEMPOTENCY_DIGEST_KEY_ID: create_mac_key(kms, prefix, IDEMPOTENCY_DIGEST_KEY_ALIAS),
        EnvVar.EVENTS_TABLE: EVENTS_TABLE.physical_name(prefix),
        EnvVar.WEBHOOK_ENDPOINTS_TABLE: WEBHOOK_ENDPOINTS_TABLE.physical_name(prefix),
        EnvVar.DELIVERIES_QUEUE_URL: deliveries_url,
        EnvVar.DELIVERIES_DLQ_URL: deliveries_dlq_url,
        EnvVar.SLOW_DELIVERIES_QUEUE_URL: slow_deliveries_url,
        EnvVar.WEBHOOK_SECRET_KEY_ID: create_encryption_key(
            kms, key_alias(prefix, WEBHOOK_SECRET_KEY_ALIAS), f"{prefix} webhook secrets"
        ),
        EnvVar.AWS_REGION: region,
    }
    if endpoint_url:
        env[EnvVar.AWS_ENDPOINT_URL] = endpoint_url
    return Settings.from_env({str(key): value for key, value in env.items()}), dlq_url
