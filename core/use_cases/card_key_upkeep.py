"""The worker keeps the card key pairs ahead (core/domain/card_keys.py): today's and
tomorrow's, made when missing, checked at most every UPKEEP_EVERY_SECONDS per instance."""

from __future__ import annotations

import threading

from core.domain.card_keys import (
    UPKEEP_EVERY_SECONDS,
    UPKEEP_RETRY_SECONDS,
    epochs_to_keep_ahead,
)
from core.domain.clock import Clock
from core.domain.ports import CardKeyring


class CardKeyUpkeep:
    def __init__(self, keyring: CardKeyring, clock: Clock) -> None:
        self._keyring = keyring
        self._clock = clock
        self._next_check = float("-inf")
        self._lock = threading.Lock()

    def run(self) -> list[str]:
        """Make the key pairs ahead that are missing, if this instance has not checked for
        a while; the epochs made. Raises what the keyring raises, and then waits
        UPKEEP_RETRY_SECONDS before trying again (not every invocation: an outage of KMS or
        DynamoDB is not made worse)."""
        now = self._clock.now()
        with self._lock:
            if now < self._next_check:
                return []
            self._next_check = now + UPKEEP_RETRY_SECONDS
            made = [
                epoch.name
                for epoch in epochs_to_keep_ahead(now)
                if not self._keyring.has(epoch.name)
                and self._keyring.create(epoch.name, expires_at=epoch.expires_at)
            ]
            self._next_check = now + UPKEEP_EVERY_SECONDS
        return made
