"""What make-payment asks for, as a command the HTTP edge builds once (with the digest of
the whole request) and the use case carries out: SubmitCard."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
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
    # The digest as made before DIGEST_FORMAT (a KMS request each), computed only when a
    # stored digest of that format is to be matched.
    earlier_digest: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    def repeats(self, stored_digest: str) -> bool:
        """Whether the payment stored with `stored_digest` was submitted by this very request
        (the digest of either format)."""
        if hmac.compare_digest(stored_digest, self.digest):
            return True
        return (
            not stored_digest.startswith(DIGEST_FORMAT)
            and self.earlier_digest is not None
            and hmac.compare_digest(stored_digest, self.earlier_digest())
        )

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


# What starts every digest made with the key derived once per instance; a digest without
# it was made by KMS per request (before 2026-12), and is still matched, with `earlier`.
DIGEST_FORMAT = "v2."


class RequestDigests:
    """The digest of a make-payment request covers everything in it, the full PAN and the
    CVV included, so another card or CVV is a different request (409). It is a MAC with a
    key only make-payment may use: whoever reads a stored digest cannot test guesses of the
    card against it. `mac`'s key is derived from a KMS key once per instance (no request
    per payment); `earlier` is that KMS key itself, for the digests made before."""

    def __init__(self, mac: Mac, earlier: Mac | None = None) -> None:
        self._mac = mac
        self._earlier = earlier

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
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
        earlier = self._earlier
        return replace(
            command,
            digest=DIGEST_FORMAT + self._mac.sign(canonical),
            earlier_digest=None if earlier is None else lambda: earlier.sign(canonical),
        )
