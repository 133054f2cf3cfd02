"""Card keys: card data is encrypted to a public key, a new key pair each epoch (a UTC day),
whose private half is kept wrapped by KMS and unwrapped only by the worker. make-payment
holds public keys alone, so it cannot decrypt any card, not even one it encrypted; and
neither side asks KMS per payment (core/adapters/hpke_card_vault.py).

The worker keeps the keys ahead: it makes the key pairs of today and tomorrow when they are
missing, so make-payment finds today's key made a day before it is needed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

EPOCH_SECONDS = 86_400
# make-payment encrypts to the key of today or, if it is missing (the worker has not run
# since), of yesterday; with neither it asks KMS to encrypt, as before key pairs existed.
ENCRYPT_WITH_EPOCHS_BACK = 1
# A key pair is kept this long after its epoch ends: it decrypts every card encrypted to
# it, and a card is kept at most until its payment is settled (resolve_after, 24 hours by
# default) or a job waits in the dead-letter queue (14 days) for a replay.
KEPT_AFTER_EPOCH_SECONDS = 15 * EPOCH_SECONDS
# How often a worker instance checks that the key pairs ahead exist (a read each), and
# how soon it tries again after a check failed.
UPKEEP_EVERY_SECONDS = 600
UPKEEP_RETRY_SECONDS = 60


def epoch_of(now: float) -> str:
    """The epoch of time `now`, named by its UTC day (2026-12-05)."""
    return time.strftime("%Y-%m-%d", time.gmtime(now))


@dataclass(frozen=True)
class Epoch:
    name: str
    expires_at: int

    @classmethod
    def at(cls, now: float) -> Epoch:
        start = int(now) - int(now) % EPOCH_SECONDS
        return cls(epoch_of(start), start + EPOCH_SECONDS + KEPT_AFTER_EPOCH_SECONDS)


def epochs_to_keep_ahead(now: float) -> tuple[Epoch, Epoch]:
    """Today's epoch and tomorrow's: the key pairs the worker makes when missing."""
    return Epoch.at(now), Epoch.at(now + EPOCH_SECONDS)


def epochs_to_encrypt_with(now: float) -> tuple[str, ...]:
    """The epochs whose key make-payment encrypts to, in order of preference."""
    return tuple(
        epoch_of(now - back * EPOCH_SECONDS) for back in range(ENCRYPT_WITH_EPOCHS_BACK + 1)
    )
