"""From a validated make-payment request to what is stored: the non-secret details and
the digest that tells a repeat from a different request."""

from __future__ import annotations

import json

from core.adapters.kms_mac import KmsMac
from core.domain.cards import VISIBLE_DIGITS
from core.domain.payment import PaymentDetails
from handlers.requests import MakePaymentRequest


def details_of(request: MakePaymentRequest, request_digest: str) -> PaymentDetails:
    return PaymentDetails(
        amount=request.amount,
        currency=request.currency,
        expiry_year=request.expiry_year,
        expiry_month=request.expiry_month,
        card_name=request.card_name,
        billing_address=request.billing_address,
        card_last_four=request.card_number[-VISIBLE_DIGITS:],
        request_digest=request_digest,
    )


class RequestDigests:
    """The digest of a make-payment request covers everything in it, the full PAN and the
    CVV included, so another card or CVV is a different request (409). It is an HMAC with
    a KMS key only make-payment may use: whoever reads a stored digest cannot test guesses
    of the card against it, and the key never leaves KMS."""

    def __init__(self, mac: KmsMac) -> None:
        self._mac = mac

    def digest(self, request: MakePaymentRequest) -> str:
        document = {
            "paymentId": request.payment_id,
            "merchantId": request.merchant_id,
            "amount": request.amount,
            "currency": request.currency,
            "expiry": [request.expiry_year, request.expiry_month],
            "cardName": request.card_name,
            "billingAddress": request.billing_address,
            "cardNumber": request.card_number,
            "cvv": request.cvv,
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return self._mac.sign(canonical.encode("utf-8"))
