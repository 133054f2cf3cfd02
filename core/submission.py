"""From a validated make-payment request to what is stored: the non-secret details and
the fingerprint that tells a repeat from a different request."""

from __future__ import annotations

from typing import Any

from core.cards import VISIBLE_DIGITS
from core.fingerprints import fingerprint
from core.payment import PaymentDetails
from core.requests import MakePaymentRequest

# The first six digits (the issuer's BIN) may be kept beside the last four (PCI DSS 3.4).
BIN_DIGITS = 6


def details_of(request: MakePaymentRequest) -> PaymentDetails:
    return PaymentDetails(
        amount=request.amount,
        currency=request.currency,
        expiry_year=request.expiry_year,
        expiry_month=request.expiry_month,
        card_name=request.card_name,
        billing_address=request.billing_address,
        card_last_four=request.card_number[-VISIBLE_DIGITS:],
        request_digest=request_digest(request),
    )


def request_digest(request: MakePaymentRequest) -> str:
    """A fingerprint of a make-payment request, to tell a repeat from a different request.

    It covers only what may be stored in the clear (BIN and last four, never the full PAN
    or the CVV), so the digest reveals nothing the item does not already show.
    """
    card = request.card_number
    document: dict[str, Any] = {
        "paymentId": request.payment_id,
        "merchantId": request.merchant_id,
        "amount": request.amount,
        "currency": request.currency,
        "expiry": [request.expiry_year, request.expiry_month],
        "cardName": request.card_name,
        "billingAddress": request.billing_address,
        "card": [card[:BIN_DIGITS], card[-VISIBLE_DIGITS:], len(card)],
    }
    return fingerprint(document)
