"""Webhook events and their delivery (core/use_cases/webhook_events.py, webhook_delivery.py)
on the in-memory fakes and a virtual clock: signed sends, the retry schedule up to the DLQ
after three days, jobs handed over twice, secret rotation, removed endpoints, the slow lane
and the merchant's places for slow sends."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace

import pytest

from core.domain import webhook_retry
from core.domain.errors import QueueUnavailableError
from core.domain.webhook_retry import (
    DELIVERY_TIMEOUT_SECONDS,
    FAST_LANE_SECONDS,
    FIRST_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    RETRY_FOR_SECONDS,
    SLOW_LANE_HOLD_SECONDS,
    SLOW_SENDS_PER_MERCHANT,
)
from core.domain.webhook_signature import WebhookSignatureError, verify_signature
from core.domain.webhooks import ROTATION_GRACE_SECONDS, DeliveryJob, DeliveryState
from core.use_cases.webhook_delivery import LEFT_FOR_REDELIVERY, settles
from tests.fakes import NO_ANSWER, SLOW_LANE, InMemoryEndpointStore, Reply
from tests.support import SENTINEL_PAN, card_data_leaks
from tests.unit.use_case_world import MERCHANT, OTHER_MERCHANT
from tests.unit.webhook_world import WebhookWorld

URL = "https://hooks.example/paygate"
# Slower than the fast lane waits, within the slow lane's whole time-out.
SLOW = Reply(200, seconds=FAST_LANE_SECONDS + 2)


@pytest.fixture
def world() -> WebhookWorld:
    return WebhookWorld()


def test_an_event_is_delivered_once_signed_with_the_secret_and_masked(world: WebhookWorld) -> None:
    issued = world.register(URL)
    payment = world.payment()

    event = world.publish(payment)
    world.deliver_due()

    (sent,) = world.sender.sent
    verify_signature(
        sent.body, sent.headers["Paygate-Signature"], [issued.secret], now=world.clock.now()
    )
    body = json.loads(sent.body)
    assert (body["id"], body["type"]) == (event.id, "payment.accepted")
    assert sent.headers["Paygate-Event-Id"] == event.id
    assert body["data"]["cardNumber"] == "************" + SENTINEL_PAN[-4:]
    delivery = world.delivery_of(payment, issued.endpoint.endpoint_id)
    assert (delivery.state, [a.status for a in delivery.attempts]) == ("delivered", [200])


def test_only_the_endpoints_that_want_the_type_get_a_job(world: WebhookWorld) -> None:
    world.register(URL, "payment.declined")
    wanted = world.register("https://b.example/h", "payment.accepted")

    world.publish(world.payment())

    assert [job.endpoint_id for job in world.queue.waiting()] == [wanted.endpoint.endpoint_id]


def test_a_merchant_without_endpoints_costs_no_job(world: WebhookWorld) -> None:
    payment = world.payment()

    event = world.publish(payment)

    assert world.event_store.get(event.id) is not None
    assert world.queue.waiting() == [] and world.metrics.counts["WebhookEvents"] == 1


def test_a_stream_batchs_events_are_stored_and_counted_together(world: WebhookWorld) -> None:
    issued = world.register(URL)
    events = [world.event_of(world.payment()) for _ in range(3)]

    world.publisher.publish_all(events)

    assert [world.event_store.get(e.id) is not None for e in events] == [True] * 3
    assert [j.endpoint_id for j in world.queue.waiting()] == [issued.endpoint.endpoint_id] * 3
    assert world.metrics.counts["WebhookEvents"] == 3


def test_a_repeated_stream_record_makes_one_event_and_one_delivery(world: WebhookWorld) -> None:
    world.register(URL)
    payment = world.payment()

    world.publish(payment)
    world.publish(payment)  # the stream hands the record over again
    world.deliver_due()

    assert len(world.events_of(payment)) == 1 and len(world.sender.sent) == 1
    # (its job queued twice: the second is a repeat of the attempt recorded)
    assert world.outcomes == [DeliveryState.DELIVERED, "a repeat"]


def test_an_event_stored_but_never_handed_on_is_handed_on_when_its_record_comes_again(
    world: WebhookWorld,
) -> None:
    world.register(URL)
    payment = world.payment()
    # GIVEN a publisher that stored the event, then died before queueing its jobs
    world.queue.unavailable = 1
    with pytest.raises(QueueUnavailableError):
        world.publish(payment)

    # WHEN the stream hands the record over again
    world.publish(payment)
    world.deliver_due()

    # THEN it is delivered once
    assert len(world.sender.sent) == 1


def test_failures_follow_the_schedule_and_go_to_the_dlq_after_three_days(
    world: WebhookWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The waits' jitter from a seeded generator: the number of attempts in three days is a
    # draw (about 1 in 230 draws makes more than 40), so the run is the same every time.
    monkeypatch.setattr(webhook_retry, "random", random.Random(28))
    endpoint = world.register(URL, replies=(Reply(500),)).endpoint
    payment = world.payment()
    event = world.publish(payment)

    world.run_for(RETRY_FOR_SECONDS + 7 * 3600)

    delivery = world.delivery_of(payment, endpoint.endpoint_id)
    attempts = delivery.attempts
    assert delivery.state == "failed"
    assert 12 <= len(attempts) == len(world.sender.sent) <= 40
    assert attempts[-1].at - attempts[0].at <= RETRY_FOR_SECONDS
    # Each wait: full jitter from half a minute up to the doubling ceiling (a second either
    # side: a job is visible on the next whole second, and may run one second early).
    for n, (before, after) in enumerate(itertools.pairwise(attempts), start=1):
        ceiling = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** (n - 1))
        assert FIRST_WAIT_SECONDS / 2 - 1 <= after.at - before.at <= ceiling + 1
    (letter,) = world.queue.dead_letters
    job = DeliveryJob.from_body(letter.body)
    assert (job.event_id, job.attempt) == (event.id, len(attempts))
    assert letter.reason == f"{len(attempts)} attempts, the last: HTTP 500"
    assert world.queue.waiting() == []


def test_a_receiver_down_for_hours_gets_the_event_when_it_is_back(world: WebhookWorld) -> None:
    replies = (*[Reply(503)] * 5, Reply(200))
    endpoint = world.register(URL, replies=replies).endpoint
    payment = world.payment()
    world.publish(payment)

    world.run_for(12 * 3600)

    delivery = world.delivery_of(payment, endpoint.endpoint_id)
    assert delivery.state == "delivered"
    assert [a.status for a in delivery.attempts] == [503] * 5 + [200]
    assert world.queue.dead_letters == [] and world.queue.waiting() == []


def test_no_card_data_in_events_deliveries_dead_letters_or_logs(
    world: WebhookWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.register(URL, replies=(Reply(500),))
    world.register("https://ok.example/h")
    payment = world.payment()
    world.publish(payment)

    world.run_for(RETRY_FOR_SECONDS + 7 * 3600)

    assert world.queue.dead_letters
    captured = (
        world.events_of(payment),
        [event.to_json() for event in world.events_of(payment)],
        [(s.body, s.headers) for s in world.sender.sent],
        world.queue.dead_letters,
        capsys.readouterr(),
    )
    assert card_data_leaks(*captured) == []


def test_a_job_handed_over_twice_sends_once(world: WebhookWorld) -> None:
    endpoint = world.register(URL).endpoint
    payment = world.payment()
    world.publish(payment)
    (message,) = world.queue.receive()

    world.delivery.deliver(message.job)
    world.queue.redeliver(message.handle)  # SQS hands the same job over again
    world.deliver_due()

    assert len(world.sender.sent) == 1
    assert world.outcomes == ["a repeat"]
    assert world.delivery_of(payment, endpoint.endpoint_id).state == "delivered"


def test_a_failed_job_handed_over_twice_queues_one_retry(world: WebhookWorld) -> None:
    world.register(URL, replies=(Reply(500), Reply(200)))
    payment = world.payment()
    world.publish(payment)
    (message,) = world.queue.receive()

    world.delivery.deliver(message.job)
    world.delivery.deliver(message.job)  # the copy, while the first is still on the queue

    assert len(world.sender.sent) == 1
    (retry,) = [job for job in world.queue.waiting() if job.attempt == 2]
    assert world.metrics.counts["WebhookJobRepeats"] == 1
    assert retry.first_attempt_at is not None


def test_a_retry_recorded_but_not_queued_is_queued_by_the_jobs_next_delivery(
    world: WebhookWorld,
) -> None:
    endpoint = world.register(URL, replies=(Reply(500), Reply(200))).endpoint
    payment = world.payment()
    world.publish(payment)
    (message,) = world.queue.receive()
    # GIVEN a run that recorded the failed attempt, then died before queueing the retry
    world.queue.unavailable = 1
    with pytest.raises(QueueUnavailableError):
        world.delivery.deliver(message.job)

    # WHEN SQS hands the job over again, and the retry comes due
    outcome = world.delivery.deliver(message.job)
    world.queue.delete(message.handle)
    world.run_for(3600)

    # THEN the retry is queued without sending again, and delivers
    assert outcome == "follow-up queued"
    delivery = world.delivery_of(payment, endpoint.endpoint_id)
    assert [a.status for a in delivery.attempts] == [500, 200]
    assert len(world.sender.sent) == 2


def test_a_job_received_before_it_is_due_is_sent_on_unsent(world: WebhookWorld) -> None:
    endpoint = world.register(URL).endpoint
    payment = world.payment()
    event = world.publish(payment)
    later = DeliveryJob(event.id, endpoint.endpoint_id, MERCHANT, 1, world.clock.now() + 3600)

    assert world.delivery.deliver(later) == "not yet due"

    assert world.sender.sent == [] and later in world.queue.waiting()


def test_a_replay_sends_a_delivered_event_again(world: WebhookWorld) -> None:
    endpoint = world.register(URL).endpoint
    payment = world.payment()
    event = world.publish(payment)
    world.deliver_due()
    world.clock.advance(60)

    world.queue.publish(
        [
            DeliveryJob.replayed(
                event.id, endpoint.endpoint_id, MERCHANT, world.clock.now(), replay=True
            )
        ],
        world.clock.now(),
    )
    world.deliver_due()

    assert len(world.sender.sent) == 2
    assert [a.status for a in world.delivery_of(payment, endpoint.endpoint_id).attempts] == [
        200,
        200,
    ]


def test_during_a_rotation_both_secrets_sign_and_after_the_grace_only_the_new(
    world: WebhookWorld,
) -> None:
    old = world.register(URL)
    new = world.endpoints.rotate(MERCHANT, MERCHANT, old.endpoint.endpoint_id)
    world.publish(world.payment())
    world.deliver_due()

    (during,) = world.sender.sent
    header = during.headers["Paygate-Signature"]
    assert header.count("v1=") == 2
    for secret in (old.secret, new.secret):
        verify_signature(during.body, header, [secret], now=world.clock.now())

    world.clock.advance(ROTATION_GRACE_SECONDS + 1)
    world.publish(world.payment())
    world.deliver_due()

    after = world.sender.sent[-1]
    header = after.headers["Paygate-Signature"]
    verify_signature(after.body, header, [new.secret], now=world.clock.now())
    with pytest.raises(WebhookSignatureError):
        verify_signature(after.body, header, [old.secret], now=world.clock.now())


def test_an_instance_reads_a_busy_endpoint_once_per_read_time_however_many_deliveries(
    world: WebhookWorld,
) -> None:
    # GIVEN one merchant's endpoint and a burst of its events, published
    endpoint = world.register(URL).endpoint
    payments = [world.payment() for _ in range(20)]
    for payment in payments:
        world.publish(payment)
    reads = world.endpoint_store.lists

    # WHEN one instance delivers them all within its read time
    world.deliver_due()

    # THEN every event is delivered, and the endpoint was read once, not once a delivery
    assert all(world.delivery_of(p, endpoint.endpoint_id).state == "delivered" for p in payments)
    assert world.endpoint_store.lists - reads == 1

    # AND once the read time has passed, the next delivery reads it again
    world.clock.advance(world.settings.endpoint_read_seconds)
    world.publish(world.payment())
    world.deliver_due()
    assert world.endpoint_store.lists - reads == 2


def test_an_endpoint_registered_after_an_instance_read_the_list_is_not_taken_for_removed(
    world: WebhookWorld,
) -> None:
    # GIVEN an instance that delivered to the merchant's first endpoint, so holds its list
    world.register(URL)
    world.publish(world.payment())
    world.deliver_due()

    # WHEN the merchant registers a second, and a publisher that read the new list queues
    # a job for it within the instance's read time
    second = world.register("https://hooks.example/second").endpoint
    payment = world.payment()
    world.another_publisher().publish_all([world.event_of(payment)])
    world.deliver_due()

    # THEN it is delivered, not dropped as removed
    assert world.delivery_of(payment, second.endpoint_id).state == "delivered"
    assert "WebhooksDropped" not in world.metrics.counts


def test_a_removed_endpoint_receives_nothing_once_the_read_time_has_passed(
    world: WebhookWorld,
) -> None:
    # GIVEN an instance that delivered to an endpoint, so holds it as read
    endpoint = world.register(URL).endpoint
    world.publish(world.payment())
    world.deliver_due()

    # WHEN the merchant removes it while the publisher still lists it for new events
    world.endpoints.remove(MERCHANT, MERCHANT, endpoint.endpoint_id)
    world.clock.advance(world.settings.endpoint_read_seconds)
    later = world.payment()
    world.publish(later)
    world.deliver_due()

    # THEN the read time later nothing more is sent to it
    assert len(world.sender.sent) == 1
    assert world.metrics.counts["WebhooksDropped"] == 1


def test_a_rotated_secret_signs_every_delivery_once_the_read_time_has_passed(
    world: WebhookWorld,
) -> None:
    # GIVEN an instance that delivered to an endpoint before its secret was rotated
    old = world.register(URL)
    world.publish(world.payment())
    world.deliver_due()
    new = world.endpoints.rotate(MERCHANT, MERCHANT, old.endpoint.endpoint_id)

    # WHEN the read time has passed
    world.clock.advance(world.settings.endpoint_read_seconds)
    world.publish(world.payment())
    world.deliver_due()

    # THEN the new secret signs too
    after = world.sender.sent[-1]
    verify_signature(
        after.body, after.headers["Paygate-Signature"], [new.secret], now=world.clock.now()
    )


def test_an_instance_that_marks_an_endpoint_reads_it_again_rather_than_its_old_copy(
    world: WebhookWorld,
) -> None:
    world.register(URL, replies=(SLOW,))
    world.publish(world.payment())
    reads = world.endpoint_store.lists

    world.deliver_due()  # the fast lane times out and marks it slow; the slow lane sends

    # the slow lane's attempt read the endpoint with its mark, not the copy from before it
    assert world.endpoint_store.lists - reads == 2


def test_a_delivery_to_a_removed_endpoint_is_ended_with_why_and_nothing_more_is_sent(
    world: WebhookWorld,
) -> None:
    # GIVEN a delivery retrying after a 500
    endpoint = world.register(URL, replies=(Reply(500), Reply(200))).endpoint
    payment = world.payment()
    world.publish(payment)
    world.deliver_due()

    # WHEN the merchant removes the endpoint
    world.endpoints.remove(MERCHANT, MERCHANT, endpoint.endpoint_id)

    # THEN the history shows it ended at once, with the reason
    (event,) = world.endpoints.events_of(MERCHANT, MERCHANT, payment.payment_id)
    (shown,) = event.to_json()["deliveries"]
    assert (shown["state"], shown["reason"]) == ("ended", "the endpoint was removed")

    # AND once its next attempt comes due, it is recorded so and nothing is sent
    world.run_for(3600)
    stored = world.delivery_of(payment, endpoint.endpoint_id)
    assert (stored.state, stored.reason) == ("ended", "the endpoint was removed")
    assert [a.status for a in stored.attempts] == [500]
    assert len(world.sender.sent) == 1 and world.queue.waiting() == []
    assert world.metrics.counts["WebhooksDropped"] == 1


def test_a_slow_endpoint_is_retried_at_once_in_the_slow_lane_and_kept_there(
    world: WebhookWorld,
) -> None:
    endpoint = world.register(URL, replies=(SLOW,)).endpoint
    payment = world.payment()
    world.publish(payment)

    world.deliver_due()

    # THEN the fast lane gave up at its time, the slow lane waited and got the answer
    delivery = world.delivery_of(payment, endpoint.endpoint_id)
    assert delivery.state == "delivered"
    assert [(a.status, a.error) for a in delivery.attempts] == [
        (None, f"no answer within {FAST_LANE_SECONDS:g} s"),
        (200, None),
    ]
    assert [s.slow_lane for s in world.sender.sent] == [False, True]
    marked = world.endpoint_store.get(MERCHANT, endpoint.endpoint_id)
    assert marked is not None and marked.in_slow_lane(world.clock.now())

    # AND while marked, its next event's job goes straight to the slow lane
    world.clock.advance(120)
    world.publish(world.payment())
    assert [job.slow for job in world.queue.waiting(SLOW_LANE)] == [True]
    world.deliver_due()
    assert [s.slow_lane for s in world.sender.sent] == [False, True, True]


def test_a_slow_endpoint_answering_in_time_again_leaves_the_slow_lane(world: WebhookWorld) -> None:
    endpoint = world.register(URL, replies=(SLOW, SLOW, Reply(200))).endpoint
    world.publish(world.payment())
    world.deliver_due()
    world.clock.advance(120)

    world.publish(world.payment())  # queued to the slow lane, answered fast there
    world.deliver_due()
    world.clock.advance(120)
    world.publish(world.payment())
    world.deliver_due()

    stored = world.endpoint_store.get(MERCHANT, endpoint.endpoint_id)
    assert stored is not None and stored.slow_until == 0
    assert [s.slow_lane for s in world.sender.sent] == [False, True, True, False]


def test_a_slow_mark_runs_out_after_its_hold(world: WebhookWorld) -> None:
    endpoint = world.register(URL, replies=(SLOW, Reply(200))).endpoint
    world.publish(world.payment())
    world.deliver_due()

    world.clock.advance(SLOW_LANE_HOLD_SECONDS + 1)
    world.publish(world.payment())
    world.deliver_due()

    assert world.sender.sent[-1].slow_lane is False
    stored = world.endpoint_store.get(MERCHANT, endpoint.endpoint_id)
    assert stored is not None and stored.slow_until == 0


def test_with_its_slow_send_places_held_a_merchants_send_is_cut_at_its_patience(
    world: WebhookWorld,
) -> None:
    # GIVEN every one of the merchant's places held by sends of other instances
    now = world.clock.now()
    for _ in range(SLOW_SENDS_PER_MERCHANT):
        assert world.endpoint_store.hold_slow_send(MERCHANT, now, now + 60) is not None
    lagging = Reply(200, seconds=1.0)  # past the patience, within the fast lane
    endpoint = world.register(URL, replies=(lagging,)).endpoint
    payment = world.payment()
    world.publish(payment)

    world.deliver_due()

    # THEN the fast-lane send was cut short there, and the slow lane delivered it
    attempts = world.delivery_of(payment, endpoint.endpoint_id).attempts
    assert attempts[0].error == "no answer within 0.5 s, its merchant's slow sends at their limit"
    assert attempts[1].status == 200
    assert world.metrics.counts["WebhookSendsCutShort"] == 1


def test_a_lagging_send_holds_a_place_while_it_waits_and_frees_it_after(
    world: WebhookWorld,
) -> None:
    lagging = Reply(200, seconds=1.0)
    endpoint = world.register(URL, replies=(lagging,)).endpoint
    # GIVEN another merchant's places all held: they are not this merchant's
    now = world.clock.now()
    for _ in range(SLOW_SENDS_PER_MERCHANT):
        world.endpoint_store.hold_slow_send(OTHER_MERCHANT, now, now + 60)
    payment = world.payment()
    world.publish(payment)

    world.deliver_due()

    (attempt,) = world.delivery_of(payment, endpoint.endpoint_id).attempts
    assert (attempt.status, attempt.milliseconds) == (200, 1000)
    now = world.clock.now()
    held = [world.endpoint_store.hold_slow_send(MERCHANT, now, now + 5) for _ in range(3)]
    assert held == [*range(SLOW_SENDS_PER_MERCHANT), None]


def test_an_unreachable_endpoint_is_retried(world: WebhookWorld) -> None:
    refused = Reply(error="ConnectionRefusedError: [Errno 111] Connection refused")
    endpoint = world.register(URL, replies=(refused, Reply(200))).endpoint
    payment = world.payment()
    world.publish(payment)

    world.run_for(600)

    delivery = world.delivery_of(payment, endpoint.endpoint_id)
    assert delivery.state == "delivered"
    assert [a.error is not None for a in delivery.attempts] == [True, False]


def test_a_fast_lane_job_met_after_its_endpoint_was_marked_slow_moves_there_unsent(
    world: WebhookWorld,
) -> None:
    endpoint = world.register(URL, replies=(SLOW,)).endpoint
    # GIVEN two events queued in the fast lane before the endpoint was marked slow
    payments = [world.payment(), world.payment()]
    for payment in payments:
        world.publish(payment)

    world.deliver_due()

    # THEN only the first waited in the fast lane; the second went on to the slow lane
    assert [s.slow_lane for s in world.sender.sent].count(False) == 1
    assert world.outcomes.count("moved to the slow lane") == 1
    for payment in payments:
        assert world.delivery_of(payment, endpoint.endpoint_id).state == "delivered"


def test_another_instance_moves_a_marked_endpoints_fast_lane_job_to_the_slow_lane(
    world: WebhookWorld,
) -> None:
    world.register(URL, replies=(SLOW,))
    world.publish(world.payment())
    world.deliver_due()  # marks the endpoint slow
    # (the publisher sees the mark once its list of the merchant's endpoints is renewed)
    world.clock.advance(world.settings.endpoint_list_seconds)
    world.publish(world.payment())
    (queued,) = world.queue.receive(SLOW_LANE)
    early = replace(queued.job, slow=False)  # a job queued to the fast lane before the mark

    assert world.another_instance().deliver(early) == "moved to the slow lane"
    assert len(world.sender.sent) == 2


def test_a_delivered_event_is_not_sent_again_by_a_newer_chain_unless_replayed(
    world: WebhookWorld,
) -> None:
    endpoint = world.register(URL).endpoint
    event = world.publish(world.payment())
    world.deliver_due()
    world.clock.advance(60)
    # A second dead letter of the delivery, replayed (a replay by hand sets `replay`)
    again = DeliveryJob.replayed(
        event.id, endpoint.endpoint_id, MERCHANT, world.clock.now(), replay=False
    )

    assert world.delivery.deliver(again) == "delivered already"
    assert len(world.sender.sent) == 1


@pytest.mark.parametrize(("status", "follow_ups"), [(200, 0), (500, 1)])
def test_two_copies_of_a_job_at_the_same_moment_record_one_attempt(
    world: WebhookWorld, status: int, follow_ups: int
) -> None:
    endpoint = world.register(URL, replies=(Reply(status),)).endpoint
    payment = world.payment()
    world.publish(payment)
    (message,) = world.queue.receive()
    copy: list[str] = []
    # WHEN the copy runs while the first send waits for its answer
    world.sender.meanwhile.append(lambda: copy.append(world.delivery.deliver(message.job)))

    first = world.delivery.deliver(message.job)

    # THEN both sent (at least once), but one attempt is recorded and followed up
    assert (copy, first) == ([copy[0]], "a repeat") and copy[0] != "a repeat"
    assert settles(first)  # the copy queued the follow-up: this message is done with
    assert len(world.delivery_of(payment, endpoint.endpoint_id).attempts) == 1
    assert len([j for j in world.queue.waiting() if j.attempt == 2]) == follow_ups


def test_a_copy_that_recorded_and_died_leaves_the_retry_to_the_next_delivery(
    world: WebhookWorld,
) -> None:
    # Found by the simulation (seed 4915): SQS hands a job to two instances; one records a
    # failed attempt and dies before queuing the retry; the other, refused as a repeat,
    # deleted the message, and the delivery stayed "retrying" with nothing queued.
    endpoint = world.register(URL, replies=(Reply(500),)).endpoint
    payment = world.payment()
    world.publish(payment)
    (message,) = world.queue.receive()
    died: list[str] = []

    def copy_records_then_dies() -> None:
        world.queue.unavailable = 1  # its retry is refused: the run fails there
        try:
            world.delivery.deliver(message.job)
        except QueueUnavailableError as error:
            died.append(str(error))

    # WHEN the copy runs (and dies) while the first send waits for its answer
    world.sender.meanwhile.append(copy_records_then_dies)
    first = world.delivery.deliver(message.job)

    # THEN the survivor keeps the message for SQS, and queues nothing itself
    assert died and first == LEFT_FOR_REDELIVERY and not settles(first)
    assert world.metrics.counts["WebhookJobsLeftForRedelivery"] == 1
    assert [j for j in world.queue.waiting() if j.attempt == 2] == []
    # AND SQS's next hand-over (after the visibility time-out) queues the one retry
    assert world.delivery.deliver(message.job) == "follow-up queued"
    assert len(world.delivery_of(payment, endpoint.endpoint_id).attempts) == 1
    assert len([j for j in world.queue.waiting() if j.attempt == 2]) == 1


class ThrottledPlaces(InMemoryEndpointStore):
    """The places item throttled: holds, or frees, fail."""

    def __init__(self, *, hold: bool, free: bool) -> None:
        super().__init__()
        self.hold_fails, self.free_fails = hold, free

    def hold_slow_send(self, merchant_id: str, now: float, until: float) -> int | None:
        if self.hold_fails:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return super().hold_slow_send(merchant_id, now, until)

    def free_slow_send(self, merchant_id: str, place: int, until: float) -> None:
        if self.free_fails:
            raise RuntimeError("ProvisionedThroughputExceededException")
        super().free_slow_send(merchant_id, place, until)


@pytest.mark.parametrize(
    ("hold", "free", "counted"),
    [(True, False, "WebhookSlowSendPlacesUnknown"), (False, True, "WebhookSlowSendPlacesUnfreed")],
)
def test_a_lagging_send_is_still_delivered_when_its_places_cannot_be_read_or_freed(
    hold: bool, free: bool, counted: str
) -> None:
    world = WebhookWorld(endpoint_store=ThrottledPlaces(hold=hold, free=free))
    endpoint = world.register(URL, replies=(Reply(200, seconds=1.0),)).endpoint
    payment = world.payment()
    world.publish(payment)

    world.deliver_due()

    (attempt,) = world.delivery_of(payment, endpoint.endpoint_id).attempts
    assert attempt.status == 200 and world.sender.sent[0].slow_lane is False
    assert world.metrics.counts[counted] == 1


def test_an_endpoint_that_never_answers_is_marked_slow_and_retried_in_the_slow_lane(
    world: WebhookWorld,
) -> None:
    endpoint = world.register(URL, replies=(NO_ANSWER,)).endpoint
    payment = world.payment()
    world.publish(payment)

    world.run_for(3600)

    attempts = world.delivery_of(payment, endpoint.endpoint_id).attempts
    assert [a.error for a in attempts[:2]] == [
        f"no answer within {FAST_LANE_SECONDS:g} s",
        f"no answer within {DELIVERY_TIMEOUT_SECONDS:g} s",
    ]
    assert len(attempts) > 2 and all(s.slow_lane for s in world.sender.sent[1:])
    assert [job.slow for job in world.queue.waiting()] == [True]


def test_a_new_endpoint_gets_the_events_made_a_minute_after_it_at_the_latest(
    world: WebhookWorld,
) -> None:
    # GIVEN the publisher has read the merchant's endpoints (none yet) for an event
    assert world.settings.endpoint_list_seconds == 60
    world.publish(world.payment())
    reads = world.endpoint_store.lists

    # WHEN an endpoint is registered, and events keep coming
    issued = world.register(URL)
    world.publish(world.payment())
    # THEN within the minute its endpoints were read, the publisher goes on without it
    assert world.queue.waiting() == []
    assert world.endpoint_store.lists == reads
    # AND from a minute after that read, every event reaches it (one read per minute)
    world.clock.advance(60)
    later = [world.payment() for _ in range(3)]
    for payment in later:
        world.publish(payment)
    assert [job.endpoint_id for job in world.queue.waiting()] == [issued.endpoint.endpoint_id] * 3
    assert world.endpoint_store.lists == reads + 1
