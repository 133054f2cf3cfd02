"""Card data encrypted with HPKE (RFC 9180, as `cryptography` implements it): DHKEM(X25519,
HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, to the public key of an epoch (core/domain/
card_keys.py). The HPKE info names the payment and the merchant, so a ciphertext moved to
another payment, or merchant, does not decrypt; it also enters HPKE's key schedule, so each
payment's AEAD key and nonce are its own even if two make-payment instances restored from
one SnapStart snapshot drew the same ephemeral key.

make-payment needs a public key a day (one read per instance); the worker one KMS Decrypt
per epoch and instance, to unwrap the private key. A ciphertext says its epoch:

    MAGIC | length of the epoch's name (1 byte) | the epoch's name | HPKE enc || ciphertext

A ciphertext without MAGIC was encrypted by KMS itself (payments submitted before key pairs,
or while none was found): KmsCardVault decrypts it, as before.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from core.adapters.dynamodb_card_keys import DynamoCardKeyring
from core.adapters.kms_card_vault import KmsCardVault, card_of
from core.domain.card_keys import epochs_to_encrypt_with
from core.domain.cards import CardSecret
from core.domain.clock import Clock
from core.domain.errors import UnreadablePaymentError
from core.domain.ports import Metrics

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
MAGIC = b"PGC\x02"
# An epoch's key looked up and not found is looked up again after this long.
MISSING_KEY_RETRY_SECONDS = 60
# Private keys an instance keeps unwrapped: the epochs of the cards it may still meet.
KEPT_PRIVATE_KEYS = 16
_EPOCH_NAME = re.compile(rb"\d{4}-\d{2}-\d{2}")


def binding(payment_id: str, merchant_id: str) -> bytes:
    """The HPKE info: what a ciphertext is bound to."""
    document = {"merchantId": merchant_id, "paymentId": payment_id, "use": "paygate card"}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class HpkeCardVault:
    """`seals`: cards are sealed to the day's key pair (card format 2); else KMS encrypts
    each (format 1, core/settings.py card_format). Both kinds are always decrypted."""

    def __init__(
        self,
        keyring: DynamoCardKeyring,
        clock: Clock,
        kms: KmsCardVault,
        metrics: Metrics,
        *,
        seals: bool = True,
    ) -> None:
        self._keyring = keyring
        self._clock = clock
        self._kms = kms
        self._metrics = metrics
        self._seals = seals
        self._lock = threading.Lock()
        # epoch -> (its public key or None, when it was looked up)
        self._public: dict[str, tuple[X25519PublicKey | None, float]] = {}
        self._private: OrderedDict[str, X25519PrivateKey] = OrderedDict()
        # One unwrap at a time per epoch; cards of epochs unwrapped already never wait.
        self._unwrapping: dict[str, threading.Lock] = {}

    def encrypt(self, card: CardSecret, *, payment_id: str, merchant_id: str) -> bytes:
        if not self._seals:
            return self._kms.encrypt(card, payment_id=payment_id, merchant_id=merchant_id)
        found = self._encryption_key()
        if found is None:
            # No key pair yet (a new stack, or none made for two days): KMS still protects
            # the card, at a request per payment, until the worker has made one.
            self._metrics.count("CardsEncryptedByKms")
            return self._kms.encrypt(card, payment_id=payment_id, merchant_id=merchant_id)
        epoch, public_key = found
        sealed = SUITE.encrypt(card.to_bytes(), public_key, info=binding(payment_id, merchant_id))
        name = epoch.encode()
        return MAGIC + bytes([len(name)]) + name + sealed

    def decrypt(self, ciphertext: bytes, *, payment_id: str, merchant_id: str) -> CardSecret:
        if not ciphertext.startswith(MAGIC):
            return self._kms.decrypt(ciphertext, payment_id=payment_id, merchant_id=merchant_id)
        epoch, sealed = _parts(ciphertext)
        private_key = self._private_key(epoch)
        try:
            plain = SUITE.decrypt(sealed, private_key, info=binding(payment_id, merchant_id))
        except (InvalidTag, ValueError) as error:
            raise UnreadablePaymentError("the card does not decrypt for this payment") from error
        return card_of(plain)

    def _encryption_key(self) -> tuple[str, X25519PublicKey] | None:
        now = self._clock.now()
        wanted = epochs_to_encrypt_with(now)
        with self._lock:
            self._public = {epoch: self._public[epoch] for epoch in wanted if epoch in self._public}
            for epoch in wanted:
                key, looked_at = self._public.get(epoch, (None, float("-inf")))
                if key is None and now - looked_at >= MISSING_KEY_RETRY_SECONDS:
                    key = self._keyring.public_key(epoch, now=now)
                    self._public[epoch] = (key, now)
                if key is not None:
                    return epoch, key
        return None

    def _private_key(self, epoch: str) -> X25519PrivateKey:
        key = self._private.get(epoch)
        if key is not None:
            return key
        with self._lock:
            unwrapping = self._unwrapping.setdefault(epoch, threading.Lock())
        with unwrapping:
            key = self._private.get(epoch)
            if key is None:
                key = self._keyring.private_key(epoch, now=self._clock.now())
                if key is None:
                    # The epoch is not quoted: it comes from the ciphertext, whoever made it.
                    raise UnreadablePaymentError("no card key is kept for the card's epoch")
                with self._lock:
                    self._private[epoch] = key
                    while len(self._private) > KEPT_PRIVATE_KEYS:
                        self._private.popitem(last=False)
            return key


def _parts(ciphertext: bytes) -> tuple[str, bytes]:
    """The epoch a ciphertext names (a day, core/domain/card_keys.py), and its HPKE part."""
    start = len(MAGIC) + 1
    end = start + ciphertext[len(MAGIC)] if len(ciphertext) >= start else 0
    name = ciphertext[start:end]
    if not _EPOCH_NAME.fullmatch(name):
        raise UnreadablePaymentError("the card ciphertext is damaged")
    return name.decode("ascii"), ciphertext[end:]
