"""The card-data KMS key's encryption contexts, and cards encrypted by KMS itself.

Card data encrypted with KMS is bound to an encryption context of paymentId and
merchantId, so a ciphertext copied to another payment (or merchant) cannot be decrypted.
The key also wraps the card key pairs' private keys, each under its epoch's context
(core/adapters/dynamodb_card_keys.py); nothing else is encrypted with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from core.adapters.aws_errors import error_code
from core.domain.cards import CardSecret
from core.domain.errors import UnreadablePaymentError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


EPOCH_CONTEXT_KEY = "cardKeyEpoch"


def encryption_context(payment_id: str, merchant_id: str) -> dict[str, str]:
    return {"paymentId": payment_id, "merchantId": merchant_id}


def wrapping_context(epoch: str) -> dict[str, str]:
    """The context a card key pair's private key is wrapped under."""
    return {EPOCH_CONTEXT_KEY: epoch}


class KmsCardVault:
    def __init__(self, client: KMSClient, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    def encrypt(self, card: CardSecret, *, payment_id: str, merchant_id: str) -> bytes:
        response = self._client.encrypt(
            KeyId=self._key_id,
            Plaintext=card.to_bytes(),
            EncryptionContext=encryption_context(payment_id, merchant_id),
        )
        return response["CiphertextBlob"]

    def decrypt(self, ciphertext: bytes, *, payment_id: str, merchant_id: str) -> CardSecret:
        try:
            response = self._client.decrypt(
                CiphertextBlob=ciphertext,
                KeyId=self._key_id,
                EncryptionContext=encryption_context(payment_id, merchant_id),
            )
        except ClientError as error:
            if error_code(error) == "InvalidCiphertextException":
                # Damaged, not ours, or another payment's: never readable, a poison job.
                raise UnreadablePaymentError(
                    "the card does not decrypt for this payment"
                ) from error
            raise
        return card_of(response["Plaintext"])


def card_of(plain: bytes) -> CardSecret:
    """The card a decrypted plaintext holds; UnreadablePaymentError if it holds none (HPKE
    tells no sealer apart: whoever reads a public key can seal something)."""
    try:
        return CardSecret.from_bytes(plain)
    except (ValueError, KeyError, TypeError) as error:
        raise UnreadablePaymentError("the card data is damaged") from error
