"""Keyed digests computed in the function, under a key derived once per instance from a KMS
HMAC key: HMAC-SHA256(KMS-MAC(label), message). The KMS key never leaves KMS, so only a role
allowed GenerateMac on it can derive the key; every instance derives the same key, so the
same message has the same digest everywhere; and a digest costs no request after the first.

Used where a value may hold anything a merchant typed (an Idempotency-Key, a make-payment
request with its card) and must still be found or matched again: the digest is kept and
logged instead of the value, and without the key it cannot be tried against guesses (card
numbers are few enough to enumerate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

from core.adapters.kms_mac import KmsMac

# What the KMS MAC of a derived key's label starts with: never a message MACed otherwise
# (a make-payment request's canonical JSON starts with "{").
DERIVATION_PREFIX = b"paygate derived key: "


class DerivedKeyMac:
    """The Mac port, keyed by the key derived from `mac`'s KMS key for `label`."""

    def __init__(self, mac: KmsMac, label: str) -> None:
        self._mac = mac
        self._label = label.encode()
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _derived_key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._mac.raw(DERIVATION_PREFIX + self._label)
            return self._key

    def sign(self, message: bytes) -> str:
        """The MAC of `message`, as unpadded base64url text (43 characters)."""
        mac = hmac.new(self._derived_key(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def verify(self, message: bytes, mac: str) -> bool:
        return hmac.compare_digest(self.sign(message), mac)


class DerivedKeyDigests:
    """Text digests under a derived key (the idempotency store's port)."""

    def __init__(self, mac: KmsMac, label: str) -> None:
        self._mac = DerivedKeyMac(mac, label)

    def digest(self, message: str) -> str:
        """The keyed digest of `message`, as unpadded base64url text (43 characters)."""
        return self._mac.sign(message.encode())
