"""Webhooks end to end on moto and a real HTTP receiver: events from the payments table's
stream (the outbox: exactly one per status reached, whatever crashes or repeats), signed
deliveries, a retry on a fake clock, SSRF refused at delivery, and no card data anywhere.
The retry schedule to the DLQ, rotation, removed endpoints and the lanes run on the fakes
(tests/unit/test_webhook_delivery.py), each port held to its adapter by
tests/contract/test_webhook_ports_contract.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from core.bootstrap import Services
from core.domain.errors import ConcurrentUpdateError
from core.domain.payment import BankOutcome, PaymentStatus
from core.domain.webhook_signature import WebhookSignatureError, verify_signature
from core.domain.webhooks import MAX_SIGNING_SECRETS, ROTATION_GRACE_SECONDS, EndpointSecret
from core.use_cases.webhook_endpoints import IssuedSecret, new_secret
from tests.conftest import MERCHANT_A, ApiClient, AwsEnv
from tests.faults import crash_after
from tests.integration.webhook_support import (
    TEST_TIMEOUT_SECONDS,
    Receiver,
    WebhookWorld,
    receiving,
    webhook_world,
)
from tests.integration.worker_support import event_source, submit
from tests.support import SENTINEL_PAN, FakeClock, card_data_leaks, lambda_context
from workers import event_publisher


@pytest.fixture
def world(aws: AwsEnv, clock: FakeClock) -> WebhookWorld:
    return webhook_world(aws, clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving(200)


def register(world: WebhookWorld, url: str, *types: str) -> IssuedSecret:
    return world.services.webhook_endpoint_service.register(MERCHANT_A, MERCHANT_A, url, types)


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.received]


def event_types(world: WebhookWorld, payment_id: str) -> list[str]:
    return [event.type for event in world.services.events.events_of(payment_id)]


def test_a_payment_is_told_processing_then_accepted_signed_and_masked(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, receiver: Receiver
) -> None:
    issued = register(world, receiver.url)

    payment_id = submit(api, 1250)
    event_source(aws, services).drain()
    world.run()

    assert sorted(b["type"] for b in bodies(receiver)) == ["payment.accepted", "payment.processing"]
    for request in receiver.received:
        verify_signature(
            request.body,
            request.headers["Paygate-Signature"],
            [issued.secret],
            now=world.clock.now(),
        )
        event = json.loads(request.body)
        assert request.headers["Paygate-Event-Id"] == event["id"]
        assert set(event) == {"id", "type", "created", "paymentId", "merchantId", "version", "data"}
        assert event["data"]["cardNumber"] == "************" + SENTINEL_PAN[-4:]
    events = world.services.events.events_of(payment_id)
    assert [(e.type, e.version) for e in events] == [
        ("payment.processing", 2),
        ("payment.accepted", 3),
    ]
    assert [d.state for e in events for d in e.deliveries] == ["delivered", "delivered"]
    assert all(d.attempts[0].status == 200 for e in events for d in e.deliveries)
    stored = aws.dynamodb.scan(TableName=world.services.settings.events_table)["Items"]
    assert card_data_leaks(stored, [r.body.decode() for r in receiver.received]) == []


def test_pending_then_accepted_for_amount_24(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    payment_id = submit(api, 24)
    for _ in range(5):
        event_source(aws, services).drain()
        clock.advance(60)
    world.run()

    assert event_types(world, payment_id) == [
        "payment.processing",
        "payment.pending",
        "payment.accepted",
    ]


def test_repeated_stream_records_make_one_event_and_one_delivery(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, receiver: Receiver
) -> None:
    register(world, receiver.url)
    payment_id = submit(api, 1250)
    event_source(aws, services).drain()
    world.run()
    delivered = len(receiver.received)

    for batch in list(world.batches):  # the stream hands the same records over again
        event_publisher.handle(batch, lambda_context(), world.services)
    world.deliver_due()

    assert event_types(world, payment_id) == ["payment.processing", "payment.accepted"]
    assert len(receiver.received) == delivered == 2


def test_a_crash_right_after_the_status_write_still_makes_exactly_one_event(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    payment_id = submit(api, 1250)
    worker = event_source(aws, services)
    # The status write is a conditional PutItem: the worker dies right after it
    with crash_after(services.clients.dynamodb, "PutItem"):
        worker.poll_once()
    worker.drain()  # SQS delivers the job again: the payment is final already
    world.run()

    assert aws.raw_item(payment_id)["status"]["S"] == "Accepted"
    assert event_types(world, payment_id) == ["payment.processing", "payment.accepted"]


def test_a_write_that_lost_its_race_makes_no_event(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    payment_id = submit(api, 1250)
    stale = services.payments.get(payment_id)
    assert stale is not None
    event_source(aws, services).drain()  # the winner: Accepted

    declined = stale.with_outcome(BankOutcome(PaymentStatus.DECLINED, "x", "y"), int(clock.now()))
    with pytest.raises(ConcurrentUpdateError):
        services.payments.save_transition(stale, declined)
    world.run()

    assert event_types(world, payment_id) == ["payment.processing", "payment.accepted"]


def test_only_the_event_types_an_endpoint_asked_for_are_delivered(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, receiver: Receiver
) -> None:
    register(world, receiver.url, "payment.accepted", "payment.declined")
    submit(api, 1250)
    event_source(aws, services).drain()
    world.run()

    assert [b["type"] for b in bodies(receiver)] == ["payment.accepted"]


def _one_accepted_payment(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> str:
    payment_id = submit(api, 1250)
    event_source(aws, services).drain()
    return payment_id


def test_a_500_then_a_2xx_is_delivered_on_the_retry(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(500, 200):
        register(world, receiver.url, "payment.accepted")
        payment_id = _one_accepted_payment(world, api, aws, services)
        world.run()
        (event,) = world.services.events.events_of(payment_id)[1:]
        assert event.deliveries[0].state == "retrying"

        world.clock.advance(120)  # the first retry is due within 30 to 60 s
        world.run()

        (event,) = world.services.events.events_of(payment_id)[1:]
        (delivery,) = event.deliveries
        assert delivery.state == "delivered"
        assert [a.status for a in delivery.attempts] == [500, 200]
        assert len({json.loads(r.body)["id"] for r in receiver.received}) == 1


def test_a_receiver_that_times_out_or_refuses_connections_is_retried(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    for receiver in receiving(200, delay=TEST_TIMEOUT_SECONDS + 1):  # slower than it waits
        register(world, receiver.url, "payment.accepted")
        closed = Receiver().start()
        closed_url = closed.url
        closed.stop()  # nothing listens there any more
        register(world, closed_url, "payment.accepted")
        payment_id = _one_accepted_payment(world, api, aws, services)
        world.run()

        (event,) = world.services.events.events_of(payment_id)[1:]
        errors = sorted(d.attempts[0].error or "" for d in event.deliveries)
        assert errors[0].startswith("ConnectionRefusedError")
        assert errors[1].startswith("no answer within")
        assert {d.state for d in event.deliveries} == {"retrying"}


def test_a_host_that_resolves_to_a_private_address_is_refused_at_delivery(
    world: WebhookWorld,
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register(world, receiver.url, "payment.accepted")
    # The endpoint's name now resolves into the network (DNS rebinding)
    monkeypatch.setattr(
        "core.adapters.http_webhook_sender.resolve", lambda host, port: ["10.0.0.7"]
    )
    payment_id = _one_accepted_payment(world, api, aws, services)
    world.run()

    (event,) = world.services.events.events_of(payment_id)[1:]
    (attempt,) = event.deliveries[0].attempts
    assert attempt.error == "refused: 127.0.0.1 resolves to a private address"
    assert receiver.received == []


def _signed_by_the_newest_only(
    world: WebhookWorld, receiver: Receiver, oldest_first: list[str]
) -> None:
    """The one delivery carries a signature by each of the newest MAX_SIGNING_SECRETS
    secrets, and none by the one before them."""
    (request,) = receiver.received
    header = request.headers["Paygate-Signature"]
    assert header.count("v1=") == MAX_SIGNING_SECRETS
    for secret in oldest_first[-MAX_SIGNING_SECRETS:]:
        verify_signature(request.body, header, [secret], now=world.clock.now())
    with pytest.raises(WebhookSignatureError):
        verify_signature(
            request.body, header, [oldest_first[-MAX_SIGNING_SECRETS - 1]], now=world.clock.now()
        )


def test_rotating_again_and_again_signs_with_the_newest_three_secrets_only(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, receiver: Receiver
) -> None:
    """However often a merchant rotates within the grace period, the endpoint's item and the
    signature header stay small: the oldest secret in grace stops signing at once."""
    first = register(world, receiver.url, "payment.accepted")
    endpoint_id = first.endpoint.endpoint_id
    secrets = [first.secret] + [
        world.services.webhook_endpoint_service.rotate(MERCHANT_A, MERCHANT_A, endpoint_id).secret
        for _ in range(40)
    ]
    stored = world.services.webhook_endpoints.get(MERCHANT_A, endpoint_id)
    assert stored is not None and len(stored.secrets) == MAX_SIGNING_SECRETS
    _one_accepted_payment(world, api, aws, services)
    world.run()

    _signed_by_the_newest_only(world, receiver, secrets)


def test_an_endpoint_stored_with_many_secrets_before_the_cap_signs_with_the_newest_three(
    world: WebhookWorld, api: ApiClient, aws: AwsEnv, services: Services, receiver: Receiver
) -> None:
    """An item that rotations before the cap left holding 50 secrets in grace: delivery
    signs with its newest three, and the next rotation trims the item."""
    endpoint_id = register(world, receiver.url, "payment.accepted").endpoint.endpoint_id
    store, vault = world.services.webhook_endpoints, world.services.webhook_secrets
    endpoint = store.get(MERCHANT_A, endpoint_id)
    assert endpoint is not None
    now = int(world.clock.now())
    oldest_first = [new_secret() for _ in range(50)]
    stored = [
        EndpointSecret(
            vault.encrypt(secret, merchant_id=MERCHANT_A, endpoint_id=endpoint_id),
            now - 50 + n,
            None if n == 49 else now + ROTATION_GRACE_SECONDS - 50 + n,
        )
        for n, secret in enumerate(oldest_first)
    ]
    assert store.save_secrets(replace(endpoint, secrets=tuple(reversed(stored))))
    _one_accepted_payment(world, api, aws, services)
    world.run()

    _signed_by_the_newest_only(world, receiver, oldest_first)
    world.services.webhook_endpoint_service.rotate(MERCHANT_A, MERCHANT_A, endpoint_id)
    trimmed = store.get(MERCHANT_A, endpoint_id)
    assert trimmed is not None and len(trimmed.secrets) == MAX_SIGNING_SECRETS
