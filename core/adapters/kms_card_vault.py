"""The one module that touches the card-data KMS key.

Card data is encrypted with KMS bound to an encryption context of paymentId and
merchantId, so a ciphertext copied to another payment (or merchant) cannot be decrypted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain.cards import CardSecret

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


def encryption_context(payment_id: str, merchant_id: str) -> dict[str, str]:
    return {"paymentId": payment_id, "merchantId": merchant_id}


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
        response = self._client.decrypt(
            CiphertextBlob=ciphertext,
            KeyId=self._key_id,
            EncryptionContext=encryption_context(payment_id, merchant_id),
        )
        return CardSecret.from_bytes(response["Plaintext"])
