"""Replaying the deliveries' DLQ as an operator sees it (`paygate webhooks replay
--dead-letters`): what the report names, and what reaches the merchant's endpoint
afterwards, on the in-memory fakes."""

from __future__ import annotations

import pytest

from core.domain.webhooks import DeliveryJob
from tests.unit.use_case_world import MERCHANT
from tests.unit.webhook_world import WebhookWorld

URL = "https://hooks.example/paygate"


@pytest.fixture
def world() -> WebhookWorld:
    return WebhookWorld()


def a_job(world: WebhookWorld) -> DeliveryJob:
    """The first attempt of a delivery of a payment's event to a new endpoint."""
    endpoint_id = world.register(URL).endpoint.endpoint_id
    event = world.publish(world.payment())
    return DeliveryJob(event.id, endpoint_id, MERCHANT, 1, world.clock.now())


def test_a_replay_reports_each_unreadable_letter_by_id_and_counts_every_duplicate(
    world: WebhookWorld,
) -> None:
    # GIVEN a letter that is no job, and three letters of one delivery
    world.queue.dead_letter_unreadable("not a job", "not a delivery job: not JSON")
    job = a_job(world)
    for _ in range(3):
        world.queue.dead_letter(job, "received too often")
    (poison,) = [letter for letter in world.queue.dead_letters if letter.body == "not a job"]

    # WHEN the DLQ is replayed
    report = world.queue.replay_dead_letters(world.clock.now(), dry_run=False, limit=10)

    # THEN the delivery is replayed once, the other two counted, the poison named and left
    assert [j.event_id for j in report.jobs] == [job.event_id]
    assert [DeliveryJob.from_body(j.to_body()) for j in report.jobs] == list(report.jobs)
    assert report.duplicates == 2
    assert report.unreadable == (poison.message_id,)
    assert [letter.body for letter in world.queue.dead_letters] == ["not a job"]


def test_a_replayed_letter_of_a_delivery_made_since_sends_nothing_again(
    world: WebhookWorld,
) -> None:
    # GIVEN a copy of a job dead-lettered while another copy delivered the event
    job = a_job(world)
    world.queue.dead_letter(job, "received too often")
    world.deliver_due()
    assert len(world.sender.sent) == 1

    # WHEN the DLQ is replayed and its job comes due
    world.clock.advance(60)
    world.queue.replay_dead_letters(world.clock.now(), dry_run=False, limit=10)
    world.deliver_due()

    # THEN the endpoint gets the event no second time
    assert len(world.sender.sent) == 1
    assert world.outcomes[-1] == "delivered already"
