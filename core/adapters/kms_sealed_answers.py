"""Answers kept for an Idempotency-Key replay that show a secret once (a webhook endpoint's
signing secret): kept encrypted under the webhook secret key, bound to the merchant and the
route by the encryption context. The functions that seal them may open only what carries
that context (infra/access.py), never an endpoint's secret, which is what only the delivery
worker may decrypt."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from core.adapters.aws_errors import error_code
from core.domain.errors import IdempotencyKeyUnusableError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

_SEALED = "sealed:v1:"
# What KMS answers, every time, for a ciphertext that was damaged or is not of this key
# and context: the kept answer can never be opened.
_NEVER_OPENS = ("InvalidCiphertextException", "IncorrectKeyException")


def answer_context(merchant_id: str, route: str) -> dict[str, str]:
    return {"merchantId": merchant_id, "sealedAnswerOf": route}


class KmsSealedAnswers:
    def __init__(self, client: KMSClient, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    def seal(self, body: str, *, merchant_id: str, route: str) -> str:
        ciphertext = self._client.encrypt(
            KeyId=self._key_id,
            Plaintext=body.encode(),
            EncryptionContext=answer_context(merchant_id, route),
        )["CiphertextBlob"]
        return _SEALED + base64.b64encode(ciphertext).decode()

    def open(self, sealed: str, *, merchant_id: str, route: str) -> str:
        """The answer; IdempotencyKeyUnusableError if the record is damaged (retrying the
        same key cannot help)."""
        unusable = IdempotencyKeyUnusableError(
            "the answer kept for this Idempotency-Key cannot be read back; what the first "
            "request did stands (list your webhook endpoints); send a new key to act again"
        )
        if not sealed.startswith(_SEALED):
            raise unusable
        try:
            ciphertext = base64.b64decode(sealed.removeprefix(_SEALED), validate=True)
            return self._client.decrypt(
                CiphertextBlob=ciphertext,
                KeyId=self._key_id,
                EncryptionContext=answer_context(merchant_id, route),
            )["Plaintext"].decode()
        except binascii.Error:
            raise unusable from None
        except ClientError as error:
            if error_code(error) in _NEVER_OPENS:
                raise unusable from None
            raise
