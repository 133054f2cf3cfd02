"""HMAC with a KMS key (key usage GENERATE_VERIFY_MAC): the key material never leaves KMS,
so only a role allowed to call GenerateMac on the key can compute a MAC, and nobody can
take the key elsewhere. Used for the make-payment card digest and for list cursors."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError

from core.adapters.aws_errors import error_code

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

MAC_ALGORITHM: Literal["HMAC_SHA_256"] = "HMAC_SHA_256"
# KMS takes messages of at most 4096 bytes.
MAX_MESSAGE_BYTES = 4096


def _text(mac: bytes) -> str:
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


class KmsMac:
    def __init__(self, client: KMSClient, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    def sign(self, message: bytes) -> str:
        """The MAC of `message`, as unpadded base64url text."""
        if len(message) > MAX_MESSAGE_BYTES:
            raise ValueError(f"a MAC message is at most {MAX_MESSAGE_BYTES} bytes")
        return _text(self.raw(message))

    def raw(self, message: bytes) -> bytes:
        """The MAC of `message` as the bytes KMS gives: key material for a derived key."""
        return self._client.generate_mac(
            KeyId=self._key_id, Message=message, MacAlgorithm=MAC_ALGORITHM
        )["Mac"]

    def verify(self, message: bytes, mac: str) -> bool:
        """Whether `mac` (as `sign` gives it) is this key's MAC of `message`."""
        try:
            raw = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        except (binascii.Error, ValueError):
            return False
        # Only the exact text `sign` gives: no padding, no other alphabet.
        if not raw or _text(raw) != mac or len(message) > MAX_MESSAGE_BYTES:
            return False
        try:
            response = self._client.verify_mac(
                KeyId=self._key_id, Message=message, MacAlgorithm=MAC_ALGORITHM, Mac=raw
            )
        except ClientError as error:
            if error_code(error) == "KMSInvalidMacException":
                return False
            raise
        return bool(response.get("MacValid"))
