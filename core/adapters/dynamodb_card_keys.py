"""The card key pairs (core/domain/card_keys.py) in DynamoDB, one item per epoch: the public
key in the clear, the private key wrapped by the card KMS key under an encryption context
naming its epoch, so a wrapped key only unwraps as what it is. A key pair is made in the
worker (the one role that may unwrap, and so the one that may see a private key anyway)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from core.adapters.aws_errors import is_condition_failure
from core.adapters.kms_card_vault import wrapping_context

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient


class DynamoCardKeyring:
    def __init__(
        self, dynamodb: DynamoDBClient, table: str, kms: KMSClient, card_key_id: str
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._kms = kms
        self._key_id = card_key_id

    def _item(self, epoch: str, attribute: str, now: float | None = None) -> dict[str, Any] | None:
        """The item's `attribute`; None if there is none, or (given `now`) it is past its
        retention, which DynamoDB's TTL enforces only days later."""
        item = self._dynamodb.get_item(
            TableName=self._table,
            Key={"epoch": {"S": epoch}},
            ProjectionExpression="#a, expiresAt",
            ExpressionAttributeNames={"#a": attribute},
        ).get("Item")
        if not item or (now is not None and int(item["expiresAt"]["N"]) <= now):
            return None
        return dict(item)

    def has(self, epoch: str) -> bool:
        return self._item(epoch, "epoch") is not None

    def create(self, epoch: str, *, expires_at: int) -> bool:
        private = X25519PrivateKey.generate()
        wrapped = self._kms.encrypt(
            KeyId=self._key_id,
            Plaintext=private.private_bytes_raw(),
            EncryptionContext=wrapping_context(epoch),
        )["CiphertextBlob"]
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "epoch": {"S": epoch},
                    "publicKey": {"B": private.public_key().public_bytes_raw()},
                    "wrappedPrivateKey": {"B": wrapped},
                    "expiresAt": {"N": str(expires_at)},
                },
                ConditionExpression="attribute_not_exists(epoch)",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def public_key(self, epoch: str, *, now: float) -> X25519PublicKey | None:
        item = self._item(epoch, "publicKey", now)
        return X25519PublicKey.from_public_bytes(item["publicKey"]["B"]) if item else None

    def private_key(self, epoch: str, *, now: float) -> X25519PrivateKey | None:
        """The private key of `epoch`, unwrapped by KMS (the worker's role alone may)."""
        item = self._item(epoch, "wrappedPrivateKey", now)
        if item is None:
            return None
        raw = self._kms.decrypt(
            CiphertextBlob=item["wrappedPrivateKey"]["B"],
            KeyId=self._key_id,
            EncryptionContext=wrapping_context(epoch),
        )["Plaintext"]
        return X25519PrivateKey.from_private_bytes(raw)
