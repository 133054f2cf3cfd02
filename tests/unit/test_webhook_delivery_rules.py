"""Delivery rules as on-call sees them (core/use_cases/webhook_delivery.py, on the in-memory
fakes): the metric each outcome counts (dashboards and alarms read them), what a crash
between recording an attempt and queuing what follows leaves for the job's next delivery,
the lane of each send, and jobs that must send nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.domain.errors import QueueUnavailableError
from core.domain.webhook_retry import (
    FAST_LANE_SECONDS,
    RETRY_FOR_SECONDS,
    SLOW_SENDS_PER_MERCHANT,
)
from core.domain.webhook_signature import verify_signature
from core.domain.webhooks import DeliveryJob
from core.use_cases.webhook_delivery import EARLY_TOLERANCE_SECONDS, SEEN_SLOW_SECONDS
from tests.fakes import FAST_LANE, SLOW_LANE, Reply
from tests.unit.use_case_world import MERCHANT, OTHER_MERCHANT
from tests.unit.webhook_world import WebhookWorld

URL = "https://hooks.example/paygate"
# Slower than the fast lane waits, within the slow lane's whole time-out.
SLOW = Reply(200, seconds=FAST_LANE_SECONDS + 2)


@pytest.fixture
def world() -> WebhookWorld:
    return WebhookWorld()


def first_job(world: WebhookWorld, *replies: Reply) -> DeliveryJob:
    """The queued first attempt of a payment's event to a new endpoint answering `replies`."""
    world.register(URL, replies=replies)
    world.publish(world.payment())
    (message,) = world.queue.receive()
    world.queue.delete(message.handle)
    return message.job


def dies_once(world: WebhookWorld, job: DeliveryJob, kill: Callable[[], None]) -> None:
    """The job's run records its attempt, then dies queuing what follows (`kill` makes
    that fail once)."""
    kill()
    with pytest.raises(QueueUnavailableError):
        world.delivery.deliver(job)


def test_delivered_and_failed_attempts_are_counted_with_each_latency(world: WebhookWorld) -> None:
    # GIVEN a receiver that answers 500 in 250 ms, then 200 in 100 ms
    world.register(URL, replies=(Reply(500, seconds=0.25), Reply(200, seconds=0.1)))
    world.publish(world.payment())

    # WHEN the event is delivered, on its retry
    world.run_for(3600)

    # THEN one failed attempt and one delivery are counted, and each attempt's latency
    counts = world.metrics.counts
    assert (counts["WebhookAttemptsFailed"], counts["WebhooksDelivered"]) == (1, 1)
    assert world.metrics.timings["WebhookLatency"] == [250, 100]


def test_a_job_whose_budget_is_spent_is_dead_lettered_and_counted(world: WebhookWorld) -> None:
    # GIVEN a retry three days after the first attempt, answered 500
    job = first_job(world, Reply(500))
    late = job.retry_at(world.clock.now(), world.clock.now() - RETRY_FOR_SECONDS, slow=False)

    # WHEN it is delivered
    assert world.delivery.deliver(late) == "failed"

    # THEN it is dead-lettered with why, and counted
    assert [letter.reason for letter in world.queue.dead_letters] == [
        "2 attempts, the last: HTTP 500"
    ]
    assert world.metrics.counts["WebhooksDeadLettered"] == 1


def test_a_slow_endpoint_is_counted_and_so_is_each_job_moved_to_the_slow_lane(
    world: WebhookWorld,
) -> None:
    # GIVEN two events queued for an endpoint slower than the fast lane's time
    world.register(URL, replies=(SLOW,))
    world.publish(world.payment())
    world.publish(world.payment())

    # WHEN the first times out in the fast lane, marking it slow, and the second comes
    world.deliver_due()

    # THEN the endpoint was counted slow once, and the second job's move to the slow lane
    assert world.metrics.counts["WebhookEndpointsSlow"] == 1
    assert world.metrics.counts["WebhooksToSlowLane"] == 1


def test_a_retry_queued_after_a_crash_keeps_the_time_of_the_first_attempt(
    world: WebhookWorld,
) -> None:
    # GIVEN a first attempt that got a 500, recorded, whose run died queuing the retry
    job = first_job(world, Reply(500), Reply(200))
    first_at = world.clock.now()
    dies_once(world, job, lambda: setattr(world.queue, "unavailable", 1))

    # WHEN SQS hands the job over again, later
    world.clock.advance(30)
    assert world.delivery.deliver(job) == "follow-up queued"

    # THEN the retry counts its budget from the first attempt, not from now
    (retry,) = world.queue.waiting()
    assert (retry.attempt, retry.first_attempt_at) == (2, first_at)


def test_a_last_attempt_dead_lettered_after_a_crash_says_where_its_answer_is(
    world: WebhookWorld,
) -> None:
    # GIVEN the last attempt of a budget, answered 500, recorded; its run died dead-lettering
    job = first_job(world, Reply(500))
    late = job.retry_at(world.clock.now(), world.clock.now() - RETRY_FOR_SECONDS, slow=False)
    letters = world.queue.dead_letter

    def refuse_once() -> None:
        def refused(job: DeliveryJob, reason: str) -> None:
            world.queue.dead_letter = letters  # type: ignore[method-assign]
            raise QueueUnavailableError("the DLQ is unavailable")

        world.queue.dead_letter = refused  # type: ignore[method-assign]

    dies_once(world, late, refuse_once)

    # WHEN SQS hands it over again
    assert world.delivery.deliver(late) == "follow-up queued"

    # THEN it is dead-lettered without sending again; its reason points to the history
    assert len(world.sender.sent) == 1
    assert [letter.reason for letter in world.queue.dead_letters] == [
        "2 attempts, the last: the last is in the event history"
    ]


def test_a_slow_lane_retry_queued_after_a_crash_stays_in_the_slow_lane(
    world: WebhookWorld,
) -> None:
    # GIVEN a slow-lane attempt that got a 500 (slowly), whose run died queuing the retry
    job = first_job(world, Reply(500, seconds=FAST_LANE_SECONDS + 1), Reply(200))
    slow_job = job.retry_at(world.clock.now(), world.clock.now(), slow=True)
    dies_once(world, slow_job, lambda: setattr(world.queue, "unavailable", 1))

    # WHEN SQS hands it over again
    assert world.delivery.deliver(slow_job) == "follow-up queued"

    # THEN its retry waits in the slow lane
    assert [j.attempt for j in world.queue.waiting(SLOW_LANE)] == [3]
    assert world.queue.waiting(FAST_LANE) == []


def test_a_slow_lane_send_carries_the_signed_event(world: WebhookWorld) -> None:
    issued = world.register(URL, replies=(SLOW,))
    world.publish(world.payment())

    world.deliver_due()

    slow = [sent for sent in world.sender.sent if sent.slow_lane]
    assert len(slow) == 1
    header = slow[0].headers["Paygate-Signature"]
    verify_signature(slow[0].body, header, [issued.secret], now=world.clock.now())


def test_an_endpoint_answering_fast_in_the_slow_lane_is_sent_its_next_job_in_the_fast_lane(
    world: WebhookWorld,
) -> None:
    # GIVEN an endpoint marked slow, whose slow-lane retry was answered at once
    world.register(URL, replies=(SLOW, Reply(200)))
    world.publish(world.payment())
    world.deliver_due()

    # WHEN its next event comes a second later
    world.clock.advance(1)
    world.publish(world.payment())
    world.deliver_due()

    # THEN it is sent in the fast lane
    assert [sent.slow_lane for sent in world.sender.sent] == [False, True, False]


def test_a_500_answered_fast_in_the_slow_lane_is_retried_in_the_fast_lane(
    world: WebhookWorld,
) -> None:
    # GIVEN an endpoint marked slow, whose slow-lane retry got a 500 at once
    world.register(URL, replies=(SLOW, Reply(500), Reply(200)))
    world.publish(world.payment())

    # WHEN its retries run
    world.run_for(3600)

    # THEN the retry after the 500 was sent in the fast lane
    assert [sent.slow_lane for sent in world.sender.sent] == [False, True, False]


def test_a_job_due_within_the_tolerance_is_sent_now(world: WebhookWorld) -> None:
    job = first_job(world)
    early = job.retry_at(world.clock.now() + EARLY_TOLERANCE_SECONDS, world.clock.now(), slow=False)

    assert world.delivery.deliver(early) == "delivered"


def test_a_job_naming_another_merchants_event_sends_it_nowhere(world: WebhookWorld) -> None:
    # GIVEN a job that pairs one merchant's event with another merchant's endpoint
    job = first_job(world)
    other = world.endpoints.register(OTHER_MERCHANT, OTHER_MERCHANT, URL + "/other", ())
    forged = DeliveryJob(job.event_id, other.endpoint.endpoint_id, OTHER_MERCHANT, 1, job.due_at)

    # WHEN it is delivered THEN nothing is sent, and it is dropped
    assert world.delivery.deliver(forged) == "endpoint or event gone"
    assert world.sender.sent == []
    assert world.metrics.counts["WebhooksDropped"] == 1


def test_an_instance_that_marked_an_endpoint_slow_moves_its_jobs_unread_for_a_while(
    world: WebhookWorld,
) -> None:
    # GIVEN an endpoint this instance marked slow, and another instance lifted the mark
    world.register(URL, replies=(SLOW, Reply(200)))
    world.publish(world.payment())
    marked_at = world.clock.now()
    (fast,) = world.queue.receive(FAST_LANE)
    world.queue.delete(fast.handle)
    world.delivery.deliver(fast.job)
    (slow,) = world.queue.receive(SLOW_LANE)
    world.queue.delete(slow.handle)
    assert world.another_instance().deliver(slow.job) == "delivered"

    def next_job_at(at: float) -> str:
        """What this instance does with the fast-lane job of an event published at `at`."""
        world.clock.advance(at - world.clock.now())
        world.publish(world.payment())
        (message,) = world.queue.receive(FAST_LANE)
        world.queue.delete(message.handle)
        return world.delivery.deliver(message.job)

    # THEN within SEEN_SLOW_SECONDS of its mark it moves them to the slow lane unread
    assert next_job_at(marked_at + SEEN_SLOW_SECONDS - 1) == "moved to the slow lane"
    # AND from then on it reads the endpoint again, unmarked: sent in the fast lane
    assert next_job_at(marked_at + SEEN_SLOW_SECONDS) == "delivered"


def test_a_lagging_send_holds_one_of_its_merchants_places_while_it_waits(
    world: WebhookWorld,
) -> None:
    # GIVEN a send past its patience, within the fast lane's time
    world.register(URL, replies=(Reply(200, seconds=1.0),))
    world.publish(world.payment())
    send = world.sender.send
    free_while_waiting: list[int | None] = []

    def sending(*args: Any, keep_waiting: Callable[[], bool] | None = None, **kw: Any) -> Any:
        def asked() -> bool:
            waits = keep_waiting is not None and keep_waiting()
            now = world.clock.now()
            for _ in range(SLOW_SENDS_PER_MERCHANT):
                place = world.endpoint_store.hold_slow_send(MERCHANT, now, now + 0.1)
                free_while_waiting.append(place)
            return waits

        return send(*args, keep_waiting=asked, **kw)

    world.sender.send = sending  # type: ignore[method-assign]

    # WHEN it is delivered
    world.deliver_due()

    # THEN while it waited, it held one of the merchant's places: the others were free
    assert free_while_waiting == [*range(1, SLOW_SENDS_PER_MERCHANT), None]


def test_a_send_asked_to_wait_after_it_ended_takes_no_place(world: WebhookWorld) -> None:
    # GIVEN a sender whose patience timer fires just as the answer came (after the send)
    world.register(URL)
    world.publish(world.payment())
    send = world.sender.send
    late_asks: list[Callable[[], bool]] = []

    def sending(*args: Any, keep_waiting: Callable[[], bool] | None = None, **kw: Any) -> Any:
        if keep_waiting is not None:
            late_asks.append(keep_waiting)
        return send(*args, keep_waiting=keep_waiting, **kw)

    world.sender.send = sending  # type: ignore[method-assign]
    world.deliver_due()

    # WHEN the timer asks whether to wait on
    (ask,) = late_asks
    ask()

    # THEN no place is taken: every one of the merchant's places is free
    now = world.clock.now()
    held = [world.endpoint_store.hold_slow_send(MERCHANT, now, now + 5) for _ in range(3)]
    assert held == [*range(SLOW_SENDS_PER_MERCHANT), None]
