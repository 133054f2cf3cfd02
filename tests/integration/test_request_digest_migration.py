"""The request digest migration (v2 digests, the bare ones still matched by KMS): an
Idempotency-Key reused with another request, both made after the upgrade, is the 422 it
always was, with no KMS request (a merchant could otherwise spend the account's KMS HMAC
quota, which list-payments' cursors share, one request per call) and whatever KMS does."""

from __future__ import annotations

from core.bootstrap import Services
from tests.conftest import ApiClient, make_payment_body
from tests.faults import throttle
from tests.integration.card_support import kms_calls, make_with_key


def test_a_reused_key_held_by_a_v2_fingerprint_is_refused_without_kms(
    api: ApiClient, services: Services
) -> None:
    # GIVEN a key used for one payment after the upgrade
    first, second = api.create_payment(), api.create_payment()
    assert make_with_key(api, "order-1", make_payment_body(first)).status == 202
    kms = kms_calls(services)

    # WHEN it is sent again with another request, many times
    answers = {make_with_key(api, "order-1", make_payment_body(second)).status for _ in range(5)}

    # THEN each is 422, and KMS was not asked
    assert answers == {422}
    assert kms["GenerateMac"] == 0


def test_a_reused_key_is_422_even_while_kms_throttles(api: ApiClient, services: Services) -> None:
    first, second = api.create_payment(), api.create_payment()
    assert make_with_key(api, "order-1", make_payment_body(first)).status == 202

    with throttle(services.clients.kms, "GenerateMac", times=5):
        reused = make_with_key(api, "order-1", make_payment_body(second))

    assert reused.status == 422, reused.body
