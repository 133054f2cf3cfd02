"""What make-payment asks for, as a command the HTTP edge builds once (with the digest of
the whole request) and the use case carries out: SubmitCard."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from core.domain.cards import VISIBLE_DIGITS, CardSecret
from core.domain.payment import CaptureMethod, PaymentDetails
from core.domain.ports import Mac


@dataclass(frozen=True)
class SubmitCard:
    payment_id: str
    merchant_id: str
    card: CardSecret = field(repr=False)
    amount: int
    currency: str
    expiry_year: int
    expiry_month: int
    card_name: str
    billing_address: str
    # Tells a repeat from a different request: see RequestDigests.
    digest: str = ""
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC

    @property
    def details(self) -> PaymentDetails:
        """What is kept of it, none of it secret."""
        if not self.digest:
            raise ValueError("a submission is digested before it is carried out")
        return PaymentDetails(
            amount=self.amount,
            currency=self.currency,
            expiry_year=self.expiry_year,
            expiry_month=self.expiry_month,
            card_name=self.card_name,
            billing_address=self.billing_address,
            card_last_four=self.card.pan[-VISIBLE_DIGITS:],
            request_digest=self.digest,
            capture_method=self.capture_method,
        )


class RequestDigests:
    """The digest of a make-payment request covers everything in it, the full PAN and the
    CVV included, so another card or CVV is a different request (409). It is a MAC with a
    key only make-payment may use: whoever reads a stored digest cannot test guesses of the
    card against it, and the key never leaves where it is kept (KMS)."""

    def __init__(self, mac: Mac) -> None:
        self._mac = mac

    def digested(self, command: SubmitCard) -> SubmitCard:
        document = {
            "paymentId": command.payment_id,
            "merchantId": command.merchant_id,
            "amount": command.amount,
            "currency": command.currency,
            "expiry": [command.expiry_year, command.expiry_month],
            "cardName": command.card_name,
            "billingAddress": command.billing_address,
            "cardNumber": command.card.pan,
            "cvv": command.card.cvv,
        }
        if command.capture_method is not CaptureMethod.AUTOMATIC:
            # Only when asked for: the digest of every automatic request stays as it was,
            # so a retry of a payment submitted before manual capture existed still matches.
            document["captureMethod"] = command.capture_method.value
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return replace(command, digest=self._mac.sign(canonical.encode("utf-8")))
