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
    # The digest in the other format (RequestDigests), computed only when a stored digest
    # of that format is to be matched: a KMS request for the bare one.
    other_digest: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    def repeats(self, stored_digest: str) -> bool:
        """Whether the payment (or Idempotency-Key) stored with `stored_digest` was submitted
        by this very request, its digest in either format."""
        if hmac.compare_digest(stored_digest, self.digest):
            return True
        same_format = stored_digest.startswith(DIGEST_FORMAT) == self.digest.startswith(
            DIGEST_FORMAT
        )
        return (
            not same_format
            and self.other_digest is not None
            and hmac.compare_digest(stored_digest, self.other_digest())
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
# it (the bare format) is KMS's MAC of the request, one request each, as releases before
# 2026-12 made it. Both are matched whichever is written (SubmitCard.repeats).
DIGEST_FORMAT = "v2."


class RequestDigests:
    """The digest of a make-payment request covers everything in it, the full PAN and the
    CVV included, so another card or CVV is a different request (409). It is a MAC with a
    key only make-payment may use: whoever reads a stored digest cannot test guesses of the
    card against it. `mac`'s key is derived from a KMS key once per instance (no request
    per payment); `earlier` is that KMS key itself, for the bare format. `writes_bare`: the
    bare format is written (the first step of an upgrade from a release that reads only
    it, core/settings.py card_format), the v2 one still matched."""

    def __init__(self, mac: Mac, earlier: Mac | None = None, *, writes_bare: bool = False) -> None:
        if writes_bare and earlier is None:
            raise ValueError("the bare format is KMS's MAC: `earlier` is needed to write it")
        self._mac = mac
        self._earlier = earlier
        self._writes_bare = writes_bare

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
        v2, earlier = self._mac, self._earlier
        if self._writes_bare and earlier is not None:
            return replace(
                command,
                digest=earlier.sign(canonical),
                other_digest=lambda: DIGEST_FORMAT + v2.sign(canonical),
            )
        return replace(
            command,
            digest=DIGEST_FORMAT + v2.sign(canonical),
            other_digest=None if earlier is None else lambda: earlier.sign(canonical),
        )
