"""Keyed digests computed in the function, under a key derived once per instance from a KMS
HMAC key: HMAC-SHA256(KMS-MAC(label), message). The KMS key never leaves KMS, so only a role
allowed GenerateMac on it can derive the key; every instance derives the same key, so the
same message has the same digest everywhere; and a digest costs no request after the first.

Used where a value may hold anything a merchant typed (an Idempotency-Key) and must still be
found again: the digest is kept and logged instead of the value, and without the key it
cannot be tried against guesses (card numbers are few enough to enumerate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

from core.adapters.kms_mac import KmsMac


class DerivedKeyDigests:
    def __init__(self, mac: KmsMac, label: str) -> None:
        self._mac = mac
        self._label = label.encode()
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _derived_key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._mac.raw(b"paygate derived key: " + self._label)
            return self._key

    def digest(self, message: str) -> str:
        """The keyed digest of `message`, as unpadded base64url text (43 characters)."""
        mac = hmac.new(self._derived_key(), message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")
