"""What each function may do, written out action by action on each resource: no broad
grant helper (they give Scan, streams, ReEncrypt and more than any function uses).

Keys that protect data at rest (the tables', the queues') may only be used through the
service that stores the data (kms:ViaService, infra/keys.py ServiceKey), CDK's generated
grants included. The card key is used only with a payment's encryption context, by its
key policy: make-payment may encrypt, the worker decrypt, and no one else, whatever their
IAM policy says (infra/keys.py AdministeredKey).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from core.adapters.dynamodb_webhook_endpoints import secret_context
from core.adapters.kms_card_vault import EPOCH_CONTEXT_KEY, encryption_context
from core.adapters.kms_sealed_answers import answer_context
from infra.keys import AdministeredKey, ServiceKey

# DynamoDB's use of a table's key on the caller's behalf (Developer Guide, "Key policy"
# for encryption at rest), without ReEncrypt or CreateGrant, which no request needs.
_TABLE_KEY_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
# SQS with a KMS key: a producer needs GenerateDataKey and Decrypt (SQS Developer Guide).
_QUEUE_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
_CARD_CONTEXT_KEYS = sorted(encryption_context("p", "m"))
_SECRET_CONTEXT_KEYS = sorted(secret_context("m", "e"))
_SEALED_ANSWER_CONTEXT_KEYS = sorted(answer_context("m", "r"))


def _allow(
    function: lambda_.Function,
    actions: Sequence[str],
    resources: Sequence[str],
    conditions: dict[str, dict[str, object]] | None = None,
) -> None:
    function.add_to_role_policy(
        iam.PolicyStatement(actions=list(actions), resources=list(resources), conditions=conditions)
    )


def _key_through(function: lambda_.Function, key: kms.IKey | None, actions: Sequence[str]) -> None:
    """`actions` on a data-at-rest key, only when its service uses it on the caller's behalf."""
    if key is None:
        return
    if not isinstance(key, ServiceKey):
        raise TypeError(f"{key.node.path}: a key for data at rest is a ServiceKey")
    key.grant(function, *actions)


def table(
    function: lambda_.Function,
    table: dynamodb.Table,
    actions: Sequence[str],
    *,
    indexes: bool = False,
) -> None:
    """`actions` (e.g. "GetItem") on `table` (and its indexes), its key through DynamoDB."""
    resources = [table.table_arn] + ([f"{table.table_arn}/index/*"] if indexes else [])
    _allow(function, [f"dynamodb:{action}" for action in actions], resources)
    _key_through(function, table.encryption_key, _TABLE_KEY_ACTIONS)


def send_jobs(function: lambda_.Function, queue: sqs.Queue) -> None:
    _allow(function, ["sqs:SendMessage"], [queue.queue_arn])
    _key_through(function, queue.encryption_master_key, _QUEUE_KEY_ACTIONS)


def read_queue_depth(function: lambda_.Function, queue: sqs.Queue) -> None:
    """GetQueueAttributes: how many messages the queue holds (no message itself)."""
    _allow(function, ["sqs:GetQueueAttributes"], [queue.queue_arn])


def card_key(function: lambda_.Function, key: AdministeredKey, action: str) -> None:
    """kms:Encrypt or kms:Decrypt on the card key, only with a payment's encryption
    context (paymentId and merchantId, and nothing else): allowed by the key policy, and
    named in the role's policy too, so the role shows all it may do."""
    _card_key_with(function, key, action, _CARD_CONTEXT_KEYS)


def card_key_pairs(function: lambda_.Function, key: AdministeredKey, *actions: str) -> None:
    """kms:Encrypt (wrap) or kms:Decrypt (unwrap) on the card key, only with a card key
    pair's encryption context (its epoch, and nothing else; core/adapters/
    dynamodb_card_keys.py)."""
    for action in actions:
        _card_key_with(function, key, action, [EPOCH_CONTEXT_KEY])


def _card_key_with(
    function: lambda_.Function, key: AdministeredKey, action: str, context_keys: list[str]
) -> None:
    context = _exact_context(context_keys)
    if function.role is None:
        raise TypeError(f"{function.node.path} has no role")
    key.allow_use(function.role, action, context)
    _allow(function, [action], [key.key_arn], context)


def _exact_context(names: list[str]) -> dict[str, dict[str, object]]:
    return {
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": names},
        "Null": {f"kms:EncryptionContext:{name}": "false" for name in names},
    }


def secret_key(function: lambda_.Function, key: kms.Key, action: str) -> None:
    """kms:Encrypt or kms:Decrypt on the webhook secret key, only with an endpoint's
    encryption context (merchantId and endpointId, and nothing else)."""
    _allow(function, [action], [key.key_arn], _exact_context(_SECRET_CONTEXT_KEYS))


def sealed_answers(function: lambda_.Function, key: kms.Key) -> None:
    """kms:Encrypt and kms:Decrypt on the webhook secret key, only with a kept answer's
    encryption context (merchantId and sealedAnswerOf): an endpoint's secret, encrypted
    under another context, stays out of reach."""
    _allow(
        function,
        ["kms:Encrypt", "kms:Decrypt"],
        [key.key_arn],
        _exact_context(_SEALED_ANSWER_CONTEXT_KEYS),
    )


def mac_key(function: lambda_.Function, key: kms.Key, *actions: str) -> None:
    _allow(function, actions, [key.key_arn])
