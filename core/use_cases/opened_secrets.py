"""Webhook signing secrets a delivery worker instance has decrypted, kept a few minutes:
a KMS Decrypt per secret and instance every KEPT_SECONDS instead of one per delivery.

Safe to keep: a secret is found by its ciphertext, which a rotation replaces (the new
secret is decrypted when first used), and every delivery reads its endpoint first, so a
deleted endpoint's secret is never used again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from core.domain.clock import Clock
from core.domain.webhooks import SecretVault

KEPT_SECONDS = 300
# Secrets an instance keeps at most (16 endpoints per merchant, 3 secrets each at most).
KEPT_SECRETS = 4096

_Key = tuple[bytes, str, str]


@dataclass
class OpenedSecrets:
    """SecretVault that keeps what `vault` decrypted (encrypting goes to `vault`)."""

    vault: SecretVault
    clock: Clock
    _opened: OrderedDict[_Key, tuple[float, str]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def encrypt(self, secret: str, *, merchant_id: str, endpoint_id: str) -> bytes:
        return self.vault.encrypt(secret, merchant_id=merchant_id, endpoint_id=endpoint_id)

    def decrypt(self, ciphertext: bytes, *, merchant_id: str, endpoint_id: str) -> str:
        key, now = (bytes(ciphertext), merchant_id, endpoint_id), self.clock.now()
        with self._lock:
            held = self._opened.get(key)
            if held is not None and held[0] > now:
                return held[1]
        secret = self.vault.decrypt(ciphertext, merchant_id=merchant_id, endpoint_id=endpoint_id)
        with self._lock:
            self._opened[key] = (now + KEPT_SECONDS, secret)
            self._opened.move_to_end(key)
            while len(self._opened) > KEPT_SECRETS:
                self._opened.popitem(last=False)
        return secret
