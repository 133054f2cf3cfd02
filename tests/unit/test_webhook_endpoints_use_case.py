"""A merchant's webhook endpoints and event history (core/use_cases/webhook_endpoints.py) on
the in-memory fakes: registration, its retry under an Idempotency-Key, rotation and its
retry, removal, limits, tenancy, and the history as the merchant reads it."""

from __future__ import annotations

import re

import pytest

from core.domain.errors import (
    EndpointBusyError,
    MerchantMismatchError,
    PaymentNotFoundError,
    TooManyEndpointsError,
    UnknownEndpointError,
)
from core.domain.webhook_events import ALL_EVENT_TYPES
from core.domain.webhook_urls import InvalidWebhookUrlError
from core.domain.webhooks import (
    MAX_ENDPOINTS_PER_MERCHANT,
    MAX_SIGNING_SECRETS,
    ROTATION_GRACE_SECONDS,
    WebhookEndpoint,
)
from core.use_cases.webhook_endpoints import ROTATION_TRIES, SECRET_PREFIX
from tests.fakes import InMemoryEndpointStore, Reply
from tests.unit.use_case_world import MERCHANT, OTHER_MERCHANT
from tests.unit.webhook_world import WebhookWorld

URL = "https://hooks.example/paygate"


@pytest.fixture
def world() -> WebhookWorld:
    return WebhookWorld()


def signing(world: WebhookWorld, endpoint_id: str) -> set[str]:
    """The secrets that sign the endpoint's deliveries now, decrypted."""
    endpoint = world.endpoint_store.get(MERCHANT, endpoint_id)
    assert endpoint is not None
    return {
        world.secrets.decrypt(s.ciphertext, merchant_id=MERCHANT, endpoint_id=endpoint_id)
        for s in endpoint.signing_secrets(world.clock.now())
    }


def test_a_registered_endpoint_answers_its_secret_once_and_stores_it_encrypted(
    world: WebhookWorld,
) -> None:
    issued = world.endpoints.register(MERCHANT, MERCHANT, URL, ())

    # 32 random bytes, URL-safe base64 without padding: 43 characters
    assert re.fullmatch(SECRET_PREFIX + "[A-Za-z0-9_-]{43}", issued.secret)
    (stored,) = world.endpoints.list_of(MERCHANT, MERCHANT)
    assert stored.to_json()["eventTypes"] == list(ALL_EVENT_TYPES)
    assert WebhookEndpoint.is_id(stored.endpoint_id)
    assert all(issued.secret.encode() not in s.ciphertext for s in stored.secrets)
    assert signing(world, stored.endpoint_id) == {issued.secret}


def test_unknown_event_types_and_refused_urls_register_nothing(world: WebhookWorld) -> None:
    world.sender.refuse("https://10.0.0.7/h", "a private address")

    with pytest.raises(InvalidWebhookUrlError) as unknown:
        world.endpoints.register(MERCHANT, MERCHANT, URL, ("payment.zz", "payment.aa"))
    assert str(unknown.value) == "unknown event types: payment.aa, payment.zz"
    with pytest.raises(InvalidWebhookUrlError, match="a private address"):
        world.endpoints.register(MERCHANT, MERCHANT, "https://10.0.0.7/h", ())

    assert world.endpoints.list_of(MERCHANT, MERCHANT) == []


def test_a_merchant_may_touch_only_its_own_endpoints(world: WebhookWorld) -> None:
    endpoint_id = world.register(URL).endpoint.endpoint_id

    with pytest.raises(MerchantMismatchError):
        world.endpoints.register(OTHER_MERCHANT, MERCHANT, URL, ())
    with pytest.raises(MerchantMismatchError):
        world.endpoints.list_of(OTHER_MERCHANT, MERCHANT)
    with pytest.raises(MerchantMismatchError):
        world.endpoints.rotate(OTHER_MERCHANT, MERCHANT, endpoint_id)
    with pytest.raises(UnknownEndpointError):
        world.endpoints.remove(OTHER_MERCHANT, OTHER_MERCHANT, endpoint_id)
    assert world.endpoints.list_of(OTHER_MERCHANT, OTHER_MERCHANT) == []


def test_a_merchant_has_at_most_the_limit_of_endpoints(world: WebhookWorld) -> None:
    for n in range(MAX_ENDPOINTS_PER_MERCHANT):
        world.register(f"{URL}/{n}")

    with pytest.raises(TooManyEndpointsError):
        world.register(URL)


def test_a_registration_retried_with_its_key_keeps_one_endpoint_and_both_secrets_sign(
    world: WebhookWorld,
) -> None:
    first = world.endpoints.register(MERCHANT, MERCHANT, URL, (), claim_id="claim-1")
    world.clock.advance(5)

    again = world.endpoints.register(MERCHANT, MERCHANT, URL, (), claim_id="claim-1")

    assert again.endpoint.endpoint_id == first.endpoint.endpoint_id
    assert WebhookEndpoint.is_id(first.endpoint.endpoint_id)
    assert again.endpoint == world.endpoint_store.get(MERCHANT, first.endpoint.endpoint_id)
    assert len(world.endpoints.list_of(MERCHANT, MERCHANT)) == 1
    assert signing(world, first.endpoint.endpoint_id) == {first.secret, again.secret}


def test_a_rotation_signs_with_both_until_the_grace_runs_out(world: WebhookWorld) -> None:
    old = world.register(URL)
    endpoint_id = old.endpoint.endpoint_id

    new = world.endpoints.rotate(MERCHANT, MERCHANT, endpoint_id)

    assert new.secret != old.secret
    # The endpoint answered with the new secret is the endpoint as now stored
    assert new.endpoint == world.endpoint_store.get(MERCHANT, endpoint_id)
    assert signing(world, endpoint_id) == {old.secret, new.secret}
    world.clock.advance(ROTATION_GRACE_SECONDS + 1)
    assert signing(world, endpoint_id) == {new.secret}


def test_a_rotation_retried_with_its_key_replaces_its_secret_instead_of_rotating_again(
    world: WebhookWorld,
) -> None:
    old = world.register(URL)
    endpoint_id = old.endpoint.endpoint_id

    world.endpoints.rotate(MERCHANT, MERCHANT, endpoint_id, claim_id="claim-9")
    retried = world.endpoints.rotate(MERCHANT, MERCHANT, endpoint_id, claim_id="claim-9")

    # The first try's secret never reached the merchant: only the old and the retry's sign.
    assert signing(world, endpoint_id) == {old.secret, retried.secret}


def test_unknown_endpoints_cannot_be_rotated_or_removed(world: WebhookWorld) -> None:
    endpoint_id = world.register(URL).endpoint.endpoint_id
    world.endpoints.remove(MERCHANT, MERCHANT, endpoint_id)

    with pytest.raises(UnknownEndpointError) as removing:
        world.endpoints.remove(MERCHANT, MERCHANT, endpoint_id)
    with pytest.raises(UnknownEndpointError) as rotating:
        world.endpoints.rotate(MERCHANT, MERCHANT, endpoint_id)
    # The failReason of the 404 names the endpoint
    assert str(removing.value) == str(rotating.value) == f"no webhook endpoint {endpoint_id}"


class EverChangingEndpoints(InMemoryEndpointStore):
    """Every secrets save finds the endpoint changed since it was read."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save_secrets(self, endpoint: object) -> bool:
        self.saves += 1
        return False


def test_a_rotation_that_keeps_meeting_others_gives_up_busy() -> None:
    store = EverChangingEndpoints()
    world = WebhookWorld(endpoint_store=store)
    endpoint_id = world.endpoints.register(
        MERCHANT, MERCHANT, URL, (), claim_id="c"
    ).endpoint.endpoint_id

    busy = f"webhook endpoint {endpoint_id} is being changed by other requests: try again"
    with pytest.raises(EndpointBusyError) as rotating:
        world.endpoints.rotate(MERCHANT, MERCHANT, endpoint_id)
    assert store.saves == ROTATION_TRIES
    with pytest.raises(EndpointBusyError) as registering:  # its retry renews its secret
        world.endpoints.register(MERCHANT, MERCHANT, URL, (), claim_id="c")
    assert str(rotating.value) == str(registering.value) == busy


def test_the_history_shows_a_payments_events_only_to_its_merchant(world: WebhookWorld) -> None:
    world.register(URL)
    payment = world.payment()
    world.publish(payment)
    world.deliver_due()

    (event,) = world.endpoints.events_of(MERCHANT, MERCHANT, payment.payment_id)

    assert [d.state for d in event.deliveries] == ["delivered"]
    with pytest.raises(PaymentNotFoundError):
        world.endpoints.events_of(OTHER_MERCHANT, OTHER_MERCHANT, payment.payment_id)


def test_a_history_without_deliveries_is_shown_as_stored(world: WebhookWorld) -> None:
    payment = world.payment()
    world.publish(payment)

    (event,) = world.endpoints.events_of(MERCHANT, MERCHANT, payment.payment_id)

    assert event.deliveries == () and event.to_json()["paymentId"] == payment.payment_id


def test_at_the_end_of_the_grace_only_the_new_secret_signs(world: WebhookWorld) -> None:
    old = world.register(URL)
    endpoint_id = old.endpoint.endpoint_id
    new = world.endpoints.rotate(MERCHANT, MERCHANT, endpoint_id)

    world.clock.advance(ROTATION_GRACE_SECONDS)

    assert signing(world, endpoint_id) == {new.secret}


def rotated_later(world: WebhookWorld, endpoint_id: str, claim_id: str | None = None) -> str:
    """The secret of a rotation made a minute after whatever came before."""
    world.clock.advance(60)
    return world.endpoints.rotate(MERCHANT, MERCHANT, endpoint_id, claim_id=claim_id).secret


def test_however_often_a_merchant_rotates_the_three_newest_secrets_sign(
    world: WebhookWorld,
) -> None:
    # GIVEN an endpoint whose secret is rotated four times within the grace period
    endpoint_id = world.register(URL).endpoint.endpoint_id
    rotated = [rotated_later(world, endpoint_id) for _ in range(4)]

    # THEN the newest and the two before it sign, and no more are kept
    assert signing(world, endpoint_id) == set(rotated[-MAX_SIGNING_SECRETS:])
    stored = world.endpoint_store.get(MERCHANT, endpoint_id)
    assert stored is not None and len(stored.secrets) == MAX_SIGNING_SECRETS


def test_a_late_retry_of_a_rotation_retires_when_its_first_try_would_have(
    world: WebhookWorld,
) -> None:
    # GIVEN a rotation under a key, then another rotation that starts its secret's grace
    endpoint_id = world.register(URL).endpoint.endpoint_id
    rotated_later(world, endpoint_id, "claim-1")
    newest = rotated_later(world, endpoint_id)

    # WHEN the first rotation is retried with its key, later
    retried = rotated_later(world, endpoint_id, "claim-1")

    # THEN its secret signs until the grace the newer rotation gave it runs out, not after
    assert retried in signing(world, endpoint_id)
    world.clock.advance(ROTATION_GRACE_SECONDS - 60)
    assert signing(world, endpoint_id) == {newest}


def test_a_late_retry_of_a_rotation_leaves_its_secret_as_old_as_its_first_try(
    world: WebhookWorld,
) -> None:
    # GIVEN a rotation under a key, two more rotations, then the first one's retry
    endpoint_id = world.register(URL).endpoint.endpoint_id
    rotated_later(world, endpoint_id, "claim-1")
    later = [rotated_later(world, endpoint_id) for _ in range(2)]
    rotated_later(world, endpoint_id, "claim-1")

    # WHEN the secret is rotated once more
    last = rotated_later(world, endpoint_id)

    # THEN the retried rotation's secret is the oldest, the one that made way
    assert signing(world, endpoint_id) == {last, *later}


def test_a_history_shows_a_delivery_to_a_live_endpoint_still_retrying(world: WebhookWorld) -> None:
    # GIVEN a delivery whose first attempt got a 500
    world.register(URL, replies=(Reply(500), Reply(200)))
    payment = world.payment()
    world.publish(payment)
    world.deliver_due()

    # WHEN the merchant reads the payment's events
    (event,) = world.endpoints.events_of(MERCHANT, MERCHANT, payment.payment_id)

    # THEN it is retrying to its URL, not ended: its endpoint is there
    assert [(d.state, d.url, d.reason) for d in event.deliveries] == [("retrying", URL, None)]


def test_a_created_payment_has_no_events_until_it_expires_then_is_not_found(
    world: WebhookWorld,
) -> None:
    created = world.payments.service.create_payment(MERCHANT, MERCHANT)

    assert world.endpoints.events_of(MERCHANT, MERCHANT, created.payment_id) == []
    world.clock.advance(world.payments.settings.payment_ttl_seconds)
    with pytest.raises(PaymentNotFoundError):
        world.endpoints.events_of(MERCHANT, MERCHANT, created.payment_id)
