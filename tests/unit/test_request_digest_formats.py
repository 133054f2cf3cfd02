"""The two request digest formats (core/domain/submission.py): a v2 digest is matched only
by the v2 digest of the same request, never by KMS; a bare digest only by the earlier
format's digest of the same request, asked only then."""

from __future__ import annotations

from core.domain.cards import CardSecret
from core.domain.submission import DIGEST_FORMAT, RequestDigests, SubmitCard
from tests.fakes import InMemoryMac
from tests.support import SENTINEL_CVV, SENTINEL_PAN


class _CountingMac(InMemoryMac):
    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        self.calls = 0

    def sign(self, message: bytes) -> str:
        self.calls += 1
        return super().sign(message)


def _command(cvv: str = SENTINEL_CVV) -> SubmitCard:
    return SubmitCard(
        payment_id="00000000-0000-4000-8000-000000000001",
        merchant_id="merchant-a",
        card=CardSecret(SENTINEL_PAN, cvv),
        amount=1250,
        currency="EUR",
        expiry_year=2031,
        expiry_month=7,
        card_name="Ada Lovelace",
        billing_address="12 Analytical Row, London",
    )


def _digests() -> tuple[RequestDigests, _CountingMac]:
    earlier = _CountingMac(b"the KMS key")
    return RequestDigests(InMemoryMac(b"the derived key"), earlier=earlier), earlier


def test_a_v2_digest_is_matched_without_the_earlier_key() -> None:
    digests, earlier = _digests()
    command = digests.digested(_command())

    assert command.digest.startswith(DIGEST_FORMAT)
    assert command.repeats(digests.digested(_command()).digest)
    assert not command.repeats(digests.digested(_command(cvv="999")).digest)
    assert earlier.calls == 0


def test_the_earlier_digest_marked_v2_matches_nothing() -> None:
    # GIVEN a stored digest that is the earlier format's digest of this very request, with
    # the v2 mark put in front (what no release writes)
    digests, earlier = _digests()
    command = digests.digested(_command())
    forged = DIGEST_FORMAT + _earlier(command)
    calls = earlier.calls

    # THEN it is not a repeat, and the earlier key is not asked again
    assert not command.repeats(forged)
    assert earlier.calls == calls


def test_a_bare_digest_matches_only_the_same_request_in_the_earlier_format() -> None:
    digests, _ = _digests()
    command = digests.digested(_command())
    other = digests.digested(_command(cvv="999"))

    assert command.repeats(_earlier(command))
    assert not other.repeats(_earlier(command))
    # AND the v2 digest with its mark taken off is no earlier digest
    assert not command.repeats(command.digest.removeprefix(DIGEST_FORMAT))


def test_a_bare_digest_is_never_matched_when_there_is_no_earlier_key() -> None:
    command = RequestDigests(InMemoryMac(b"the derived key")).digested(_command())
    assert not command.repeats("anything")


def _earlier(command: SubmitCard) -> str:
    assert command.other_digest is not None
    return command.other_digest()
