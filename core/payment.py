"""The payment record and its state machine. The rules of which status may follow which
live here and nowhere else."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from core.cards import VISIBLE_DIGITS, mask_card_number
from core.requests import MakePaymentRequest

CREATED_VERSION = 1
# The first six digits (the issuer's BIN) may be kept beside the last four (PCI DSS 3.4).
BIN_DIGITS = 6


class PaymentStatus(StrEnum):
    CREATED = "Created"
    PROCESSING = "Processing"
    PENDING = "Pending"
    ACCEPTED = "Accepted"
    DECLINED = "Declined"
    INSUFFICIENT_FUNDS = "InsufficientFunds"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_in_flight(self) -> bool:
        return self in (PaymentStatus.PROCESSING, PaymentStatus.PENDING)


FINAL_STATUSES = frozenset(
    {PaymentStatus.ACCEPTED, PaymentStatus.DECLINED, PaymentStatus.INSUFFICIENT_FUNDS}
)

ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: frozenset({PaymentStatus.PROCESSING}),
    PaymentStatus.PROCESSING: frozenset({PaymentStatus.PENDING, *FINAL_STATUSES}),
    PaymentStatus.PENDING: frozenset({PaymentStatus.PENDING, *FINAL_STATUSES}),
    **{status: frozenset() for status in FINAL_STATUSES},
}


class IllegalTransitionError(Exception):
    pass


def check_transition(current: PaymentStatus, target: PaymentStatus) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransitionError(f"{current} -> {target} is not allowed")


@dataclass(frozen=True)
class PaymentDetails:
    """What make-payment adds to a payment, none of it secret."""

    amount: int
    currency: str
    expiry_year: int
    expiry_month: int
    card_name: str
    billing_address: str
    card_last_four: str
    request_digest: str

    @classmethod
    def from_request(cls, request: MakePaymentRequest) -> PaymentDetails:
        return cls(
            amount=request.amount,
            currency=request.currency,
            expiry_year=request.expiry_year,
            expiry_month=request.expiry_month,
            card_name=request.card_name,
            billing_address=request.billing_address,
            card_last_four=request.card_number[-VISIBLE_DIGITS:],
            request_digest=request_digest(request),
        )

    @property
    def masked_card_number(self) -> str:
        return mask_card_number(self.card_last_four)


def request_digest(request: MakePaymentRequest) -> str:
    """A fingerprint of a make-payment request, to tell a repeat from a different request.

    It covers only what may be stored in the clear (BIN and last four, never the full PAN
    or the CVV), so the digest reveals nothing the item does not already show.
    """
    card = request.card_number
    fingerprint: dict[str, Any] = {
        "paymentId": request.payment_id,
        "merchantId": request.merchant_id,
        "amount": request.amount,
        "currency": request.currency,
        "expiry": [request.expiry_year, request.expiry_month],
        "cardName": request.card_name,
        "billingAddress": request.billing_address,
        "card": [card[:BIN_DIGITS], card[-VISIBLE_DIGITS:], len(card)],
    }
    canonical = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class BankOutcome:
    status: PaymentStatus
    fail_code: str | None = None
    fail_reason: str | None = None


@dataclass(frozen=True)
class Payment:
    payment_id: str
    merchant_id: str
    status: PaymentStatus
    version: int
    created_at: int
    updated_at: int
    expires_at: int | None = None
    details: PaymentDetails | None = None
    card_ciphertext: bytes | None = None
    correlation_id: str | None = None
    fail_code: str | None = None
    fail_reason: str | None = None
    bank_checks: int = 0
    reconcile_count: int = 0
    # Why the last attempt to process it failed (shown by `paygate dlq list`).
    last_error: str | None = None

    def is_expired(self, now: int) -> bool:
        """A Created payment unused past its expiry is gone, whether or not TTL deleted it."""
        return (
            self.status is PaymentStatus.CREATED
            and self.expires_at is not None
            and self.expires_at <= now
        )

    def visible_to(self, merchant_id: str, now: int) -> bool:
        return self.merchant_id == merchant_id and not self.is_expired(now)

    def with_outcome(self, outcome: BankOutcome, now: int) -> Payment:
        check_transition(self.status, outcome.status)
        return replace(
            self,
            status=outcome.status,
            version=self.version + 1,
            updated_at=now,
            fail_code=outcome.fail_code,
            fail_reason=outcome.fail_reason,
            card_ciphertext=None if outcome.status.is_final else self.card_ciphertext,
            bank_checks=self.bank_checks + 1,
            reconcile_count=0,
            last_error=None,
        )
