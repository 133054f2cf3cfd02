"""The fast lane's places for slow sends (core/use_cases/webhook_delivery.py): a send past
its patience waits on only in one of its merchant's places, shared by every instance; with
all of them held, it is cut short there and sent again at once in the slow lane."""

from __future__ import annotations

import pytest

from core.adapters.http_webhook_sender import HttpWebhookSender
from core.bootstrap import Services
from core.domain.webhook_retry import SLOW_SENDS_PER_MERCHANT
from core.domain.webhooks import Delivery
from tests.conftest import MERCHANT_A, ApiClient, AwsEnv
from tests.integration.webhook_support import WebhookWorld, receiving, webhook_world
from tests.integration.worker_support import event_source, submit
from tests.support import FakeClock

PATIENCE_SECONDS = 0.2
# Past the patience, well within the fast lane's wait (FAST_LANE_SECONDS below).
ANSWERS_AFTER_SECONDS = 0.6
FAST_LANE_SECONDS = 2.0


@pytest.fixture
def world(aws: AwsEnv, clock: FakeClock) -> WebhookWorld:
    world = webhook_world(aws, clock)
    world.services.webhook_delivery.sender = HttpWebhookSender(
        allow_loopback=True,
        timeout_seconds=3 * FAST_LANE_SECONDS,
        fast_lane_seconds=FAST_LANE_SECONDS,
        patience_seconds=PATIENCE_SECONDS,
    )
    return world


def _accepted_delivery(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, url: str
) -> Delivery:
    """A's accepted payment's webhook to the endpoint at `url`, delivered as far as it goes
    now."""
    world.services.webhook_endpoint_service.register(
        MERCHANT_A, MERCHANT_A, url, ("payment.accepted",)
    )
    payment_id = submit(api, 1250)
    event_source(aws, services).drain()
    world.run()
    (delivery,) = world.services.events.events_of(payment_id)[-1].deliveries
    return delivery


def _places_free(world: WebhookWorld) -> int:
    """How many of A's places a send could take now (each taken is freed again)."""
    store, now = world.services.webhook_endpoints, world.clock.now()
    taken = [store.hold_slow_send(MERCHANT_A, now, now + 1) for _ in range(SLOW_SENDS_PER_MERCHANT)]
    for place in taken:
        if place is not None:
            store.free_slow_send(MERCHANT_A, place, now + 1)
    return sum(place is not None for place in taken)


def test_a_send_past_its_patience_with_a_free_place_waits_and_is_delivered_in_the_fast_lane(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN A's endpoint answers after the patience, within the fast lane's wait
    for receiver in receiving(200, delay=ANSWERS_AFTER_SECONDS):
        # WHEN A's payment's webhook is delivered
        delivery = _accepted_delivery(world, api, aws, services, receiver.url)

    # THEN it was delivered at the first attempt, and its place is free again
    assert delivery.state == "delivered"
    assert [a.status for a in delivery.attempts] == [200]
    assert _places_free(world) == SLOW_SENDS_PER_MERCHANT


def test_with_its_merchants_places_held_a_slow_send_is_cut_short_and_sent_in_the_slow_lane(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN every place of A is held by A's other slow sends (on other instances)
    store, now = world.services.webhook_endpoints, world.clock.now()
    held = [store.hold_slow_send(MERCHANT_A, now, now + 60) for _ in range(SLOW_SENDS_PER_MERCHANT)]
    assert None not in held
    # and A's endpoint answers after the patience, within the fast lane's wait
    for receiver in receiving(200, delay=ANSWERS_AFTER_SECONDS):
        # WHEN A's payment's webhook is delivered
        delivery = _accepted_delivery(world, api, aws, services, receiver.url)

    # THEN the fast-lane attempt was cut short at the patience, recorded with why, and the
    # delivery sent again at once in the slow lane, where it was delivered
    first, second = delivery.attempts
    assert first.status is None and "slow sends at their limit" in (first.error or "")
    assert (second.status, delivery.state) == (200, "delivered")
    assert _places_free(world) == 0  # the places held by the others stay theirs
