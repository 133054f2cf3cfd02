"""What a merchant reads of its webhooks: an endpoint as listed, and a payment's event
history with each delivery and its attempts (core/domain/webhooks.py `to_json`), on the
in-memory fakes."""

from __future__ import annotations

import pytest

from tests.fakes import Reply
from tests.unit.use_case_world import MERCHANT
from tests.unit.webhook_world import WebhookWorld

URL = "https://hooks.example/paygate"


@pytest.fixture
def world() -> WebhookWorld:
    return WebhookWorld()


def test_a_listed_endpoint_shows_its_id_owner_url_types_and_creation(world: WebhookWorld) -> None:
    # GIVEN an endpoint registered for one event type
    registered_at = int(world.clock.now())
    issued = world.register(URL, "payment.accepted")

    # WHEN the merchant lists its endpoints
    (listed,) = world.endpoints.list_of(MERCHANT, MERCHANT)

    # THEN it reads the endpoint as registered (and never its secret)
    assert listed.to_json() == {
        "id": issued.endpoint.endpoint_id,
        "merchantId": MERCHANT,
        "url": URL,
        "eventTypes": ["payment.accepted"],
        "createdAt": registered_at,
    }


def test_a_history_shows_each_attempt_with_its_status_or_its_error(world: WebhookWorld) -> None:
    # GIVEN a receiver that answers 500, then cannot be reached, then answers 200
    replies = (Reply(500, seconds=0.25), Reply(error="connection refused"), Reply(200, seconds=0.1))
    endpoint_id = world.register(URL, replies=replies).endpoint.endpoint_id
    payment = world.payment()
    world.publish(payment)

    # WHEN its retries run and the merchant reads the payment's events
    world.run_for(3600)
    (event,) = world.endpoints.events_of(MERCHANT, MERCHANT, payment.payment_id)
    (shown,) = event.to_json()["deliveries"]

    # THEN the delivery shows where it went, that it was delivered (no reason: nothing
    # ended it), and each attempt: when, how long, and the status or the error
    times = [int(attempt.at) for attempt in world.delivery_of(payment, endpoint_id).attempts]
    assert times == sorted(times) and len(set(times)) == 3
    assert shown == {
        "endpointId": endpoint_id,
        "url": URL,
        "state": "delivered",
        "attempts": [
            {"at": times[0], "ms": 250, "status": 500},
            {"at": times[1], "ms": 0, "error": "connection refused"},
            {"at": times[2], "ms": 100, "status": 200},
        ],
    }


def test_a_delivered_event_stays_delivered_after_its_endpoint_is_removed(
    world: WebhookWorld,
) -> None:
    # GIVEN an event delivered to an endpoint
    endpoint_id = world.register(URL).endpoint.endpoint_id
    payment = world.payment()
    world.publish(payment)
    world.deliver_due()

    # WHEN the merchant removes the endpoint
    world.endpoints.remove(MERCHANT, MERCHANT, endpoint_id)

    # THEN the history still shows it delivered, not ended
    (event,) = world.endpoints.events_of(MERCHANT, MERCHANT, payment.payment_id)
    (shown,) = event.to_json()["deliveries"]
    assert shown["state"] == "delivered" and "reason" not in shown
