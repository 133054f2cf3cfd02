"""The request digest migration (v2 digests, the bare ones still matched by KMS): an
Idempotency-Key reused with another request, both made after the upgrade, is the 422 it
always was, with no KMS request (a merchant could otherwise spend the account's KMS HMAC
quota, which list-payments' cursors share, one request per call) and whatever KMS does."""

from __future__ import annotations

from collections import Counter
from typing import Any

from core.bootstrap import Services
from tests.conftest import ApiClient, make_payment_body
from tests.faults import throttle
from tests.support import ApiResponse


def _make(api: ApiClient, key: str, body: dict[str, Any]) -> ApiResponse:
    return api.post(
        "/make-payment",
        body,
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


def _kms_calls(services: Services) -> Counter[str]:
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    services.clients.kms.meta.events.register("before-parameter-build.kms.*", count)
    return calls


def test_a_reused_key_held_by_a_v2_fingerprint_is_refused_without_kms(
    api: ApiClient, services: Services
) -> None:
    # GIVEN a key used for one payment after the upgrade
    first, second = api.create_payment(), api.create_payment()
    assert _make(api, "order-1", make_payment_body(first)).status == 202
    kms = _kms_calls(services)

    # WHEN it is sent again with another request, many times
    answers = {_make(api, "order-1", make_payment_body(second)).status for _ in range(5)}

    # THEN each is 422, and KMS was not asked
    assert answers == {422}
    assert kms["GenerateMac"] == 0


def test_a_reused_key_is_422_even_while_kms_throttles(api: ApiClient, services: Services) -> None:
    first, second = api.create_payment(), api.create_payment()
    assert _make(api, "order-1", make_payment_body(first)).status == 202

    with throttle(services.clients.kms, "GenerateMac", times=5):
        reused = _make(api, "order-1", make_payment_body(second))

    assert reused.status == 422, reused.body
