"""What the card-encryption and request-digest tests share: the KMS requests an instance
makes, a payment's stored card ciphertext, make-payment with an Idempotency-Key, and the
request digests of the release before the v2 format."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from core.adapters.kms_mac import KmsMac
from core.bootstrap import Services
from core.domain.submission import DIGEST_FORMAT, RequestDigests, SubmitCard
from tests.conftest import ApiClient, AwsEnv
from tests.support import ApiResponse


def kms_calls(services: Services) -> Counter[str]:
    """The KMS requests `services` makes from now on, by operation."""
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    services.clients.kms.meta.events.register("before-parameter-build.kms.*", count)
    return calls


def stored_ciphertext(aws: AwsEnv, payment_id: str) -> bytes:
    return bytes(aws.raw_item(payment_id)["cardCiphertext"]["B"])


def make_with_key(api: ApiClient, key: str, body: dict[str, Any]) -> ApiResponse:
    return api.post(
        "/make-payment",
        body,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


class PreviousReleaseDigests:
    """make-payment's request digests as the release before the v2 format made and matched
    them: KMS's MAC of the request, one GenerateMac each, stored bare; no other format."""

    def __init__(self, services: Services) -> None:
        key = KmsMac(services.clients.kms, services.settings.card_digest_key_id)
        self._digests = RequestDigests(key)

    def digested(self, command: SubmitCard) -> SubmitCard:
        digested = self._digests.digested(command)
        return replace(
            digested, digest=digested.digest.removeprefix(DIGEST_FORMAT), other_digest=None
        )
