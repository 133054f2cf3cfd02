"""The bank port: what the worker needs from a card acquirer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.cards import CardSecret
from core.payment import BankOutcome


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
    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        """Authorize once per idempotency key; a repeated key answers the original result.

        Raises BankUnavailableError (or BankTimeoutError) for a transient failure.
        """
        ...
