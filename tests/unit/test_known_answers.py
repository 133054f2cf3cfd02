"""Formats others depend on, pinned by known answers: the webhook signature merchants'
receivers recompute, and the request digest stored with every payment (a change to it
would turn the retries of every older payment into 409s). Each expected value is computed
here from the documented format, and one is also pinned as a literal."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

from core.domain.cards import CardSecret
from core.domain.submission import DIGEST_FORMAT, RequestDigests, SubmitCard
from core.domain.webhook_signature import sign, signature_header, verify_signature
from tests.fakes import InMemoryMac

T = 1_800_000_000
BODY = b'{"id":"evt_p_2","type":"payment.accepted"}'
SECRET = "whsec_current"
# HMAC-SHA256("whsec_current", '1800000000.{"id":"evt_p_2","type":"payment.accepted"}')
PINNED_SIGNATURE = "320ca447257a0943f6e2cf063a3ecb6b470e70b02417354a09d9bd4b1b427625"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_keyed_by_the_whole_secret() -> None:
    # GIVEN what docs/webhooks.md tells a merchant to compute, done by hand
    signed = f"{T}.".encode() + BODY
    expected = hmac.new(SECRET.encode("utf-8"), signed, hashlib.sha256).hexdigest()

    # THEN paygate signs exactly that, and its header carries it as t=...,v1=...
    assert sign(SECRET, T, BODY) == expected == PINNED_SIGNATURE
    assert signature_header([SECRET], T, BODY) == f"t={T},v1={PINNED_SIGNATURE}"


def test_a_header_a_merchant_builds_by_the_documented_format_verifies() -> None:
    other = hmac.new(b"whsec_old", f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

    verify_signature(BODY, f"t={T},v1={PINNED_SIGNATURE}", [SECRET], now=T)
    verify_signature(BODY, f"t={T}, v1={other}, v1={PINNED_SIGNATURE}", [SECRET], now=T)
    assert signature_header([SECRET, "whsec_old"], T, BODY) == (
        f"t={T},v1={PINNED_SIGNATURE},v1={other}"
    )


class _ShowingMac:
    """A MAC that shows what it was given, to read the digested document."""

    def sign(self, message: bytes) -> str:
        return message.decode("utf-8")

    def verify(self, message: bytes, mac: str) -> bool:
        return self.sign(message) == mac


SUBMISSION = SubmitCard(
    payment_id="pay_1",
    merchant_id="m_1",
    card=CardSecret(pan="4242424242424242", cvv="123"),
    amount=1050,
    currency="EUR",
    expiry_year=2030,
    expiry_month=12,
    card_name="Zoë Lovelace",
    billing_address="1 Main St",
)
# Sorted keys, no spaces, non-ASCII escaped: the digest of every stored payment was made so.
DIGESTED_DOCUMENT = (
    '{"amount":1050,"billingAddress":"1 Main St","cardName":"Zo\\u00eb Lovelace",'
    '"cardNumber":"4242424242424242","currency":"EUR","cvv":"123","expiry":[2030,12],'
    '"merchantId":"m_1","paymentId":"pay_1"}'
)
PINNED_MAC = "b991f7767411138cb88a2ebee5e7a59a3c3a32adedaacdab9c5d2dfc8852c5da"
PINNED_DIGEST = "v2." + PINNED_MAC


def test_the_request_digest_is_the_mac_of_the_canonical_json_of_the_whole_request() -> None:
    # WHEN a make-payment request is digested
    document = RequestDigests(_ShowingMac()).digested(SUBMISSION).digest

    # THEN what is MACed is this document, byte for byte, after the format's mark
    assert document == DIGEST_FORMAT + DIGESTED_DOCUMENT


def test_the_request_digest_of_a_known_request_and_key_is_pinned() -> None:
    key = b"request digest key"
    expected = hmac.new(key, DIGESTED_DOCUMENT.encode("ascii"), hashlib.sha256).hexdigest()

    digested = RequestDigests(InMemoryMac(key)).digested(SUBMISSION)

    assert digested.digest == "v2." + expected == PINNED_DIGEST
    assert digested.details.request_digest == PINNED_DIGEST
    assert digested.details.card_last_four == "4242"
    assert digested.details.masked_card_number == "************4242"


def test_a_digest_stored_before_the_v2_format_still_matches_its_own_request_only() -> None:
    # GIVEN a payment stored by the earlier release: the bare MAC (KMS's, per request)
    earlier_key, key = b"kms mac key", b"derived key"
    stored = hmac.new(earlier_key, DIGESTED_DOCUMENT.encode(), hashlib.sha256).hexdigest()
    digests = RequestDigests(InMemoryMac(key), earlier=InMemoryMac(earlier_key))

    # THEN the same request repeated now is a repeat of it, and a different CVV is not
    assert digests.digested(SUBMISSION).repeats(stored)
    other_cvv = replace(SUBMISSION, card=CardSecret(pan="4242424242424242", cvv="124"))
    assert not digests.digested(other_cvv).repeats(stored)
    # AND a v2 digest is never matched through the earlier key (no KMS request for it)
    calls: list[bytes] = []
    counting = RequestDigests(InMemoryMac(key), earlier=_CountingMac(earlier_key, calls))
    assert not counting.digested(other_cvv).repeats(PINNED_DIGEST)
    assert counting.digested(SUBMISSION).repeats("v2." + _mac(key))
    assert calls == []
    # AND without an earlier key, an earlier digest matches nothing
    assert not RequestDigests(InMemoryMac(key)).digested(SUBMISSION).repeats(stored)


def _mac(key: bytes) -> str:
    return hmac.new(key, DIGESTED_DOCUMENT.encode(), hashlib.sha256).hexdigest()


class _CountingMac(InMemoryMac):
    def __init__(self, key: bytes, calls: list[bytes]) -> None:
        super().__init__(key)
        self._calls = calls

    def sign(self, message: bytes) -> str:
        self._calls.append(message)
        return super().sign(message)
