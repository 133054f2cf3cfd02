"""The make-payment body every benchmark submits (a test card, never a real one)."""

from __future__ import annotations

from typing import Any

TEST_PAN = "4242424242424242"


def make_payment_body(payment_id: str, merchant_id: str, amount: int) -> dict[str, Any]:
    return {
        "paymentId": payment_id,
        "merchantId": merchant_id,
        "cardNumber": TEST_PAN,
        "cvv": "123",
        "expiryYear": 2035,
        "expiryMonth": 1,
        "currency": "EUR",
        "amount": amount,
        "cardName": "Bench",
        "billingAddress": "1 Bench Road",
    }
