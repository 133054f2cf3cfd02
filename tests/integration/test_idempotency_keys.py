from __future__ import annotations

from core.bootstrap import Services
from core.domain.fingerprints import fingerprint
from core.domain.idempotency import KEEP_SECONDS, Claim
from tests.conftest import MERCHANT_A, MERCHANT_B, ApiClient, AwsEnv, make_payment_body
from tests.integration.card_support import PreviousReleaseDigests, make_with_key
from tests.support import SENTINEL_PAN, ApiResponse, FakeClock, card_data_leaks


def _create(api: ApiClient, key: str, merchant_id: str | None = None) -> ApiResponse:
    return api.post(
        "/create-payment",
        {"merchantId": merchant_id or api.merchant_id},
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


def test_the_same_key_and_body_replays_the_first_answer(api: ApiClient, aws: AwsEnv) -> None:
    first = _create(api, "order-1")
    again = _create(api, "order-1")

    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(aws.payment_items()) == 1


def test_make_payment_with_a_key_is_replayed_and_queued_once(api: ApiClient, aws: AwsEnv) -> None:
    payment_id = api.create_payment()
    body = make_payment_body(payment_id)

    answers = [make_with_key(api, "pay-1", body) for _ in range(3)]

    assert [a.status for a in answers] == [202, 202, 202]
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    assert len(aws.queued_bodies()) == 1
    stored = aws.dynamodb.scan(TableName=aws.settings.idempotency_table)["Items"]
    assert card_data_leaks(stored) == []
    assert SENTINEL_PAN not in str(stored)


def test_the_same_key_with_another_body_is_422(api: ApiClient, aws: AwsEnv) -> None:
    payment_id = api.create_payment()
    assert make_with_key(api, "pay-2", make_payment_body(payment_id)).status == 202

    response = make_with_key(api, "pay-2", make_payment_body(payment_id, amount=999))

    assert response.status == 422
    assert response.body["failCode"] == "idempotency_key_reused"
    assert aws.raw_item(payment_id)["amount"] == {"N": "1250"}


def test_the_same_key_while_the_first_request_runs_is_409(
    api: ApiClient, services: Services, clock: FakeClock
) -> None:
    # GIVEN a first request holding the key (its Lambda is still running)
    request = fingerprint({"merchantId": api.merchant_id})
    held = services.idempotency.begin("merchant-a", "create-payment", "slow-1", request)
    assert isinstance(held, Claim)

    # WHEN the merchant retries at once, and again after the first one must have died
    during = _create(api, "slow-1")
    clock.advance(61)
    after = _create(api, "slow-1")

    # THEN
    assert during.status == 409
    assert during.body["failCode"] == "idempotency_key_in_use"
    assert after.status == 201


def test_a_key_expires_after_24_hours(api: ApiClient, aws: AwsEnv, clock: FakeClock) -> None:
    first = _create(api, "daily")
    clock.advance(KEEP_SECONDS - 1)
    within = _create(api, "daily")
    clock.advance(1)
    after = _create(api, "daily")

    assert within.body == first.body
    assert after.status == 201
    assert after.body["paymentId"] != first.body["paymentId"]
    assert "Idempotent-Replayed" not in after.headers


def test_keys_are_scoped_per_merchant(api: ApiClient) -> None:
    mine = _create(api, "shared-key")
    theirs = _create(api.as_merchant(MERCHANT_B), "shared-key", MERCHANT_B)

    assert (mine.status, theirs.status) == (201, 201)
    assert mine.body["paymentId"] != theirs.body["paymentId"]
    assert "Idempotent-Replayed" not in theirs.headers


def test_an_error_releases_the_key_for_a_corrected_retry(api: ApiClient) -> None:
    unknown = make_payment_body("00000000-0000-4000-8000-000000000000")
    assert make_with_key(api, "fix-me", unknown).status == 404

    payment_id = api.create_payment()
    corrected = make_with_key(api, "fix-me", make_payment_body(payment_id))

    assert corrected.status == 202


def test_an_unusable_key_is_400(api: ApiClient, aws: AwsEnv) -> None:
    too_long = _create(api, "k" * 256)
    control = _create(api, "bad\u0007key")

    assert too_long.status == control.status == 400
    assert too_long.body["failCode"] == "invalid_idempotency_key"
    assert aws.payment_items() == []


def test_a_payment_submitted_before_the_upgrade_is_repeated_not_refused(
    aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN payments submitted by the earlier release, one with an Idempotency-Key
    before = Services(aws.settings, aws.clients(), clock)
    before.overrides = {"request_digests": PreviousReleaseDigests(before)}
    earlier = ApiClient(before, MERCHANT_A)
    plain_id, keyed_id = earlier.create_payment(), earlier.create_payment()
    assert earlier.post("/make-payment", make_payment_body(plain_id)).status == 202
    assert make_with_key(earlier, "order-9", make_payment_body(keyed_id)).status == 202
    assert "." not in aws.raw_item(plain_id)["requestDigest"]["S"]

    # WHEN the merchant retries each after the upgrade
    after = ApiClient(Services(aws.settings, aws.clients(), clock), MERCHANT_A)
    plain = after.post("/make-payment", make_payment_body(plain_id))
    keyed = make_with_key(after, "order-9", make_payment_body(keyed_id))

    # THEN each is answered as the repeat it is, and a changed one is still refused
    assert (plain.status, keyed.status) == (202, 202)
    assert keyed.headers["Idempotent-Replayed"] == "true"
    assert after.post("/make-payment", make_payment_body(plain_id, cvv="999")).status == 409
    assert make_with_key(after, "order-9", make_payment_body(keyed_id, cvv="999")).status == 422
    assert len(aws.queued_bodies()) == 2
