"""The bank port: what the worker needs from a card acquirer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.domain.cards import CardSecret
from core.domain.payment import BankOutcome


@dataclass(frozen=True)
class AuthorizationRequest:
    payment_id: str
    merchant_id: str
    amount: int
    currency: str
    expiry_year: int
    expiry_month: int
    card: CardSecret


class Bank(Protocol):
    """Every method raises BankUnavailableError (or BankTimeoutError) for a transient
    failure; the idempotency key is the payment id."""

    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        """Authorize once per idempotency key; a repeated key answers the original result."""
        ...

    def inquire(self, idempotency_key: str) -> BankOutcome | None:
        """Where an authorization the bank answered Pending stands now (no card needed):
        Pending still, or its final outcome. None if the bank has no answer for the key."""
        ...

    def void_unless_decided(self, idempotency_key: str) -> BankOutcome | None:
        """End the authorization for good: its final outcome if the bank decided one,
        otherwise None, and the bank will never authorize this key afterwards."""
        ...
