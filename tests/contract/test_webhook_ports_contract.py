"""The webhook ports' contract (core/domain/webhooks.py), run against each in-memory fake
(tests/fakes.py) and its adapter: DynamoDB, SQS and KMS on in-process moto, the HTTP sender
against a receiver on loopback. The webhook use-case tests on the fakes (tests/unit/) rely
on every rule checked here."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from cli.provisioning import create_queues, create_redriven_queue
from core.adapters.dynamodb_events import DynamoEventStore
from core.adapters.dynamodb_webhook_endpoints import DynamoEndpointStore, KmsSecretVault
from core.adapters.http_webhook_sender import HttpWebhookSender
from core.adapters.sqs_deliveries import REASON_ATTRIBUTE, SqsDeliveryQueue
from core.domain.errors import TooManyEndpointsError
from core.domain.webhook_events import WebhookEvent, event_id
from core.domain.webhook_retry import SLOW_SENDS_PER_MERCHANT
from core.domain.webhooks import (
    ENDPOINT_REMOVED,
    MAX_ENDPOINTS_PER_MERCHANT,
    Attempt,
    DeliveryJob,
    DeliveryState,
    EndpointSecret,
    WebhookEndpoint,
)
from core.resources import DELIVERIES_DLQ, DELIVERIES_QUEUE, SLOW_DELIVERIES_QUEUE
from tests.contract.conftest import _aws, _one_of
from tests.fakes import (
    FAST_LANE,
    SLOW_LANE,
    FakeWebhookSender,
    InMemoryDeliveryQueue,
    InMemoryEndpointStore,
    InMemoryEventStore,
    InMemorySecretVault,
    Reply,
)
from tests.integration.webhook_support import Receiver
from tests.support import FakeClock

NOW = 1_800_000_000
MERCHANT, OTHER = "m-1", "m-2"


@pytest.fixture
def events(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(
        kind,
        request,
        InMemoryEventStore,
        lambda aws: DynamoEventStore(aws.dynamodb, aws.settings.events_table),
    )


@pytest.fixture
def endpoints(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(
        kind,
        request,
        InMemoryEndpointStore,
        lambda aws: DynamoEndpointStore(aws.dynamodb, aws.settings.webhook_endpoints_table),
    )


@pytest.fixture
def secrets(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(
        kind,
        request,
        InMemorySecretVault,
        lambda aws: KmsSecretVault(aws.kms, aws.settings.webhook_secret_key_id),
    )


def an_event(payment_id: str | None = None, version: int = 2, created: int = NOW) -> WebhookEvent:
    return WebhookEvent(
        type="payment.accepted",
        created=created,
        payment_id=payment_id or str(uuid.uuid4()),
        merchant_id=MERCHANT,
        version=version,
        data={"status": "Accepted"},
    )


def a_job(event: WebhookEvent, endpoint_id: str = "we_1", **changes: Any) -> DeliveryJob:
    job = DeliveryJob(event.id, endpoint_id, MERCHANT, attempt=1, due_at=NOW)
    return replace(job, **changes)


def failed(at: float = NOW) -> Attempt:
    return Attempt(at=at, milliseconds=12, status=500)


def test_an_event_stored_again_is_one_event_read_back_with_its_exact_body(events: Any) -> None:
    event = an_event()

    events.put_all([(event, '{"id":"exact"}')])
    events.put_all([(event, '{"id":"exact"}'), (event, '{"id":"exact"}')])

    stored = events.get(event.id)
    assert (stored.body, stored.type, stored.version) == ('{"id":"exact"}', "payment.accepted", 2)
    assert [e.event_id for e in events.events_of(event.payment_id)] == [event.id]
    assert events.get(event_id(str(uuid.uuid4()), 2)) is None


def test_a_batch_of_events_larger_than_a_request_is_stored_whole(events: Any) -> None:
    # GIVEN a stream batch's 60 events (more than the 25 a BatchWriteItem takes)
    batch = [an_event(version=v, payment_id=f"pay_{v % 7}") for v in range(1, 61)]

    events.put_all([(event, f'{{"v":{event.version}}}') for event in batch])

    for event in batch:
        assert events.get(event.id).body == f'{{"v":{event.version}}}'
    # AND an event's delivery entries are untouched by the event stored again
    first = batch[0]
    assert events.record_attempt(a_job(first), "https://h.example", failed(), "retrying")
    events.put_all([(first, '{"v":1}')])
    (stored,) = [e for e in events.events_of(first.payment_id) if e.event_id == first.id]
    assert [d.state for d in stored.deliveries] == ["retrying"]


def test_an_attempt_is_recorded_once_and_never_over_a_later_one(events: Any) -> None:
    event = an_event()
    events.put_all([(event, "{}")])
    first = a_job(event)
    second = first.retry_at(NOW + 60, NOW, slow=False)

    assert events.record_attempt(
        first, "https://a.example/h", failed(), "retrying", next_at=NOW + 60, first_attempt_at=NOW
    )
    # GIVEN the same job handed over twice, THEN its copy is refused
    assert not events.record_attempt(first, "https://a.example/h", failed(), "retrying")
    assert events.record_attempt(second, "https://a.example/h", failed(NOW + 60), "failed")
    assert not events.record_attempt(first, "https://a.example/h", failed(), "retrying")

    stored, progress = events.get_for_delivery(event.id, "we_1")
    assert stored.event_id == event.id
    assert (progress.state, progress.chain, progress.attempt) == ("failed", 0, 2)
    assert progress.follow_up_pending and progress.next_at is None
    (delivery,) = events.events_of(event.payment_id)[0].deliveries
    assert [a.at for a in delivery.attempts] == [NOW, NOW + 60]


def test_a_newer_chain_supersedes_an_older_one(events: Any) -> None:
    event = an_event()
    events.put_all([(event, "{}")])
    old = a_job(event, attempt=5)
    replay = DeliveryJob.replayed(event.id, "we_1", MERCHANT, NOW + 10, replay=True)

    assert events.record_attempt(old, "https://a.example/h", failed(), "retrying")
    assert events.record_attempt(replay, "https://a.example/h", failed(), "retrying")
    assert not events.record_attempt(
        old.retry_at(NOW + 99, NOW, slow=False), "https://a.example/h", failed(), "retrying"
    )

    _, progress = events.get_for_delivery(event.id, "we_1")
    assert (progress.chain, progress.attempt) == (replay.chain, 1)


def test_a_follow_up_is_marked_queued_only_for_the_attempt_recorded_last(events: Any) -> None:
    event = an_event()
    events.put_all([(event, "{}")])
    first = a_job(event)
    second = first.retry_at(NOW + 60, NOW, slow=False)
    events.record_attempt(
        first, "https://a.example/h", failed(), "retrying", next_at=NOW + 60, first_attempt_at=NOW
    )
    assert events.get_for_delivery(event.id, "we_1")[1].next_at == NOW + 60

    events.record_attempt(second, "https://a.example/h", failed(), "retrying", next_at=NOW + 200)
    events.follow_up_queued(first)
    assert events.get_for_delivery(event.id, "we_1")[1].follow_up_pending

    events.follow_up_queued(second)
    _, progress = events.get_for_delivery(event.id, "we_1")
    assert (progress.follow_up_pending, progress.next_at) == (False, NOW + 200)


def test_a_delivered_attempt_has_no_follow_up(events: Any) -> None:
    event = an_event()
    events.put_all([(event, "{}")])

    ok = Attempt(at=NOW, milliseconds=5, status=204)
    events.record_attempt(a_job(event), "https://a.example/h", ok, DeliveryState.DELIVERED)

    _, progress = events.get_for_delivery(event.id, "we_1")
    assert (progress.state, progress.follow_up_pending) == ("delivered", False)


def test_only_a_retrying_delivery_of_the_jobs_chain_or_older_is_ended(events: Any) -> None:
    event = an_event()
    events.put_all([(event, "{}")])
    job, other = a_job(event, "we_1"), a_job(event, "we_2")
    events.record_attempt(job, "https://a.example/h", failed(), "retrying", next_at=NOW + 60)
    ok = Attempt(at=NOW, milliseconds=5, status=200)
    events.record_attempt(other, "https://b.example/h", ok, DeliveryState.DELIVERED)

    events.end_delivery(replace(job, chain=-1), ENDPOINT_REMOVED)  # an older chain's job
    assert events.get_for_delivery(event.id, "we_1")[1].state == "retrying"
    events.end_delivery(job, ENDPOINT_REMOVED)
    events.end_delivery(other, ENDPOINT_REMOVED)
    events.end_delivery(a_job(event, "we_3"), ENDPOINT_REMOVED)  # never tried: nothing

    _, progress = events.get_for_delivery(event.id, "we_1")
    assert (progress.state, progress.follow_up_pending, progress.next_at) == ("ended", False, None)
    shown = {
        d.endpoint_id: (d.state, d.reason) for d in events.events_of(event.payment_id)[0].deliveries
    }
    assert shown == {"we_1": ("ended", ENDPOINT_REMOVED), "we_2": ("delivered", None)}


def test_a_payments_events_come_oldest_first_with_their_own_deliveries(events: Any) -> None:
    payment_id = str(uuid.uuid4())
    later, earlier = an_event(payment_id, 3), an_event(payment_id, 2)
    elsewhere = an_event()
    for event in (later, earlier, elsewhere):
        events.put_all([(event, "{}")])
    events.record_attempt(a_job(later, "we_b"), "https://b.example/h", failed(), "retrying")
    events.record_attempt(a_job(later, "we_a"), "https://a.example/h", failed(), "retrying")
    events.record_attempt(a_job(elsewhere), "https://a.example/h", failed(), "retrying")

    listed = events.events_of(payment_id)

    assert [(e.version, [d.endpoint_id for d in e.deliveries]) for e in listed] == [
        (2, []),
        (3, ["we_a", "we_b"]),
    ]
    assert events.events_of(str(uuid.uuid4())) == []


def test_events_since_a_time_are_those_created_in_the_window(events: Any) -> None:
    inside = [an_event(created=NOW - 3600), an_event(created=NOW)]
    outside = [an_event(created=NOW - 3 * 86400), an_event(created=NOW + 3600)]
    for event in inside + outside:
        events.put_all([(event, "{}")])

    assert set(events.event_ids_since(NOW - 7200, NOW)) == {e.id for e in inside}


def an_endpoint(
    merchant: str = MERCHANT, created: int = NOW, endpoint_id: str | None = None
) -> WebhookEndpoint:
    return WebhookEndpoint(
        endpoint_id=endpoint_id or f"we_{uuid.uuid4().hex[:20]}",
        merchant_id=merchant,
        url="https://hooks.example/h",
        created_at=created,
        event_types=("payment.accepted",),
        secrets=(EndpointSecret(b"\x01ciphertext", created),),
    )


def test_endpoints_are_listed_oldest_first_per_merchant_and_removed_once(endpoints: Any) -> None:
    newer, older, others = an_endpoint(created=NOW + 5), an_endpoint(), an_endpoint(OTHER)
    for endpoint in (newer, older, others):
        endpoints.add(endpoint)
    endpoints.add(older)  # a retry of the add

    assert endpoints.list(MERCHANT) == [older, newer]
    assert endpoints.get(MERCHANT, older.endpoint_id) == older
    assert endpoints.get(OTHER, older.endpoint_id) is None
    assert endpoints.get(MERCHANT, "count") is None
    assert endpoints.remove(MERCHANT, older.endpoint_id) == older
    assert endpoints.remove(MERCHANT, older.endpoint_id) is None
    assert endpoints.list(MERCHANT) == [newer]


def test_a_merchant_has_at_most_the_limit_of_endpoints(endpoints: Any) -> None:
    kept = [an_endpoint() for _ in range(MAX_ENDPOINTS_PER_MERCHANT)]
    for endpoint in kept:
        endpoints.add(endpoint)

    with pytest.raises(TooManyEndpointsError):
        endpoints.add(an_endpoint())
    endpoints.add(an_endpoint(OTHER))
    endpoints.remove(MERCHANT, kept[0].endpoint_id)
    endpoints.add(an_endpoint())

    assert len(endpoints.list(MERCHANT)) == MAX_ENDPOINTS_PER_MERCHANT


def test_secrets_are_saved_only_over_the_revision_they_were_read_at(endpoints: Any) -> None:
    endpoint = an_endpoint()
    endpoints.add(endpoint)
    rotated = endpoint.rotated(EndpointSecret(b"\x02new", NOW + 1), NOW + 1)

    assert endpoints.save_secrets(rotated) is True
    assert endpoints.save_secrets(endpoint.rotated(EndpointSecret(b"\x03", NOW), NOW)) is False

    stored = endpoints.get(MERCHANT, endpoint.endpoint_id)
    assert (stored.revision, stored.secrets) == (1, rotated.secrets)
    endpoints.remove(MERCHANT, endpoint.endpoint_id)
    assert endpoints.save_secrets(stored) is False
    assert endpoints.get(MERCHANT, endpoint.endpoint_id) is None


def test_a_slow_mark_is_kept_in_whole_seconds_and_never_brings_an_endpoint_back(
    endpoints: Any,
) -> None:
    endpoint = an_endpoint()
    endpoints.add(endpoint)

    endpoints.mark_slow(MERCHANT, endpoint.endpoint_id, NOW + 600.7)
    assert endpoints.get(MERCHANT, endpoint.endpoint_id).slow_until == NOW + 600
    endpoints.mark_slow(MERCHANT, endpoint.endpoint_id, 0)
    assert endpoints.get(MERCHANT, endpoint.endpoint_id).slow_until == 0

    endpoints.remove(MERCHANT, endpoint.endpoint_id)
    endpoints.mark_slow(MERCHANT, endpoint.endpoint_id, NOW + 600)
    assert endpoints.get(MERCHANT, endpoint.endpoint_id) is None
    assert endpoints.list(MERCHANT) == []


def test_a_merchant_has_a_few_slow_send_places_each_held_until_freed_or_run_out(
    endpoints: Any,
) -> None:
    held = [
        endpoints.hold_slow_send(MERCHANT, NOW, NOW + 5) for _ in range(SLOW_SENDS_PER_MERCHANT)
    ]

    assert sorted(held) == list(range(SLOW_SENDS_PER_MERCHANT))
    assert endpoints.hold_slow_send(MERCHANT, NOW + 1, NOW + 6) is None
    assert endpoints.hold_slow_send(OTHER, NOW + 1, NOW + 6) is not None
    # A free of a hold that ran out and was taken again leaves the new holder's place held.
    place = endpoints.hold_slow_send(MERCHANT, NOW + 5, NOW + 10)
    endpoints.free_slow_send(MERCHANT, place, NOW + 5)
    assert endpoints.hold_slow_send(MERCHANT, NOW + 6, NOW + 11) is not None
    assert endpoints.hold_slow_send(MERCHANT, NOW + 6, NOW + 11) is None
    endpoints.free_slow_send(MERCHANT, place, NOW + 10)
    assert endpoints.hold_slow_send(MERCHANT, NOW + 7, NOW + 12) == place


def test_a_secret_opens_only_for_its_merchant_and_endpoint(secrets: Any) -> None:
    ciphertext = secrets.encrypt("whsec_abc123", merchant_id=MERCHANT, endpoint_id="we_1")

    assert b"whsec_abc123" not in ciphertext
    assert secrets.decrypt(ciphertext, merchant_id=MERCHANT, endpoint_id="we_1") == "whsec_abc123"
    for merchant, endpoint in ((OTHER, "we_1"), (MERCHANT, "we_2")):
        with pytest.raises(Exception):  # noqa: B017 (KMS and the fake raise their own kind)
            secrets.decrypt(ciphertext, merchant_id=merchant, endpoint_id=endpoint)


class DeliveryQueueUnderTest:
    """A DeliveryQueue and a way to take what is visible on each lane and in the DLQ."""

    def __init__(self, kind: str, request: pytest.FixtureRequest) -> None:
        if kind == "memory":
            self.memory = InMemoryDeliveryQueue(FakeClock(NOW).now)
            self.queue: Any = self.memory
            return
        self.sqs = _aws(request).sqs
        prefix = f"c{time.monotonic_ns()}"
        fast, self.dlq = create_queues(self.sqs, prefix, DELIVERIES_QUEUE, DELIVERIES_DLQ)
        slow = create_redriven_queue(self.sqs, prefix, SLOW_DELIVERIES_QUEUE, self.dlq)
        self.urls = {FAST_LANE: fast, SLOW_LANE: slow}
        self.queue = SqsDeliveryQueue(self.sqs, fast, self.dlq, slow)

    def take(self, lane: str) -> list[DeliveryJob]:
        """Every job visible now on the lane, deleted."""
        if hasattr(self, "memory"):
            taken = []
            while batch := self.memory.receive(lane):
                for message in batch:
                    self.memory.delete(message.handle)
                    taken.append(message.job)
            return taken
        jobs = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.urls[lane], MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in batch:
                self.sqs.delete_message(
                    QueueUrl=self.urls[lane], ReceiptHandle=message["ReceiptHandle"]
                )
                jobs.append(DeliveryJob.from_body(message["Body"]))
        return jobs

    def letters(self) -> list[tuple[str, str]]:
        """(body, reason) of every dead letter, left in the DLQ."""
        if hasattr(self, "memory"):
            return [(letter.body, letter.reason) for letter in self.memory.dead_letters]
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.dlq,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            MessageAttributeNames=["All"],
        ).get("Messages", []):
            messages.extend(batch)
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.dlq, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return [
            (m["Body"], m["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]) for m in messages
        ]


@pytest.fixture
def deliveries(kind: str, request: pytest.FixtureRequest) -> DeliveryQueueUnderTest:
    return DeliveryQueueUnderTest(kind, request)


def test_jobs_due_now_reach_their_lane(deliveries: DeliveryQueueUnderTest) -> None:
    event = an_event()
    fast = [a_job(event, f"we_{n}") for n in range(12)]
    slow = a_job(event, "we_slow", slow=True)

    deliveries.queue.publish([*fast, slow], NOW)

    assert sorted(deliveries.take(FAST_LANE), key=lambda j: j.endpoint_id) == sorted(
        fast, key=lambda j: j.endpoint_id
    )
    assert deliveries.take(SLOW_LANE) == [slow]


def test_a_job_due_later_is_not_handed_over_now(deliveries: DeliveryQueueUnderTest) -> None:
    deliveries.queue.publish([a_job(an_event(), due_at=NOW + 600)], NOW)

    assert deliveries.take(FAST_LANE) == []


def test_dead_letters_keep_the_job_and_why(deliveries: DeliveryQueueUnderTest) -> None:
    job = a_job(an_event(), attempt=14)

    deliveries.queue.dead_letter(job, "14 attempts, the last: HTTP 500")
    deliveries.queue.dead_letter_unreadable("not a job", "not a delivery job: not JSON")

    assert sorted(deliveries.letters()) == sorted(
        [
            (job.to_body(), "14 attempts, the last: HTTP 500"),
            ("not a job", "not a delivery job: not JSON"),
        ]
    )
    assert deliveries.take(FAST_LANE) == []


def test_a_replay_queues_each_delivery_once_with_a_fresh_budget(
    deliveries: DeliveryQueueUnderTest,
) -> None:
    first, second = a_job(an_event(), attempt=14), a_job(an_event(), attempt=9, slow=True)
    for job in (first, second, first):  # a run that died after dead-lettering it: twice
        deliveries.queue.dead_letter(job, "budget spent")
    deliveries.queue.dead_letter_unreadable("not a job", "poison")

    dry = deliveries.queue.replay_dead_letters(NOW + 5, dry_run=True, limit=10)
    assert (len(dry.jobs), len(dry.unreadable), dry.duplicates) == (2, 1, 1)
    assert len(deliveries.letters()) == 4 and deliveries.take(FAST_LANE) == []

    done = deliveries.queue.replay_dead_letters(NOW + 5, dry_run=False, limit=10)

    fresh = {(j.event_id, j.attempt, j.chain, j.slow) for j in deliveries.take(FAST_LANE)}
    assert fresh == {(j.event_id, 1, (NOW + 5) * 1000, False) for j in (first, second)}
    assert {(j.event_id, j.attempt) for j in done.jobs} == {
        (first.event_id, 1),
        (second.event_id, 1),
    }
    assert deliveries.letters() == [("not a job", "poison")]


def test_a_replay_stops_at_its_limit(deliveries: DeliveryQueueUnderTest) -> None:
    for _ in range(3):
        deliveries.queue.dead_letter(a_job(an_event()), "budget spent")

    done = deliveries.queue.replay_dead_letters(NOW, dry_run=False, limit=2)

    assert len(done.jobs) == len(deliveries.take(FAST_LANE)) == 2
    assert len(deliveries.letters()) == 1


# The adapter's budgets in these tests: a receiver on loopback answers within a few ms,
# far inside them even on a loaded machine; a "slow" receiver takes SLOW_ANSWER_SECONDS.
FAST_LANE_SECONDS, TIMEOUT_SECONDS, PATIENCE_SECONDS = 1.0, 3.0, 0.3
SLOW_ANSWER_SECONDS = 1.5


class SenderUnderTest:
    """A WebhookSender and receivers that answer as told."""

    def __init__(self, kind: str) -> None:
        self.receivers: dict[str, Receiver] = {}
        if kind == "memory":
            self.fake = FakeWebhookSender(
                timeout_seconds=TIMEOUT_SECONDS,
                fast_lane_seconds=FAST_LANE_SECONDS,
                patience_seconds=PATIENCE_SECONDS,
            )
            self.sender: Any = self.fake
        else:
            self.sender = HttpWebhookSender(
                allow_loopback=True,
                timeout_seconds=TIMEOUT_SECONDS,
                fast_lane_seconds=FAST_LANE_SECONDS,
                patience_seconds=PATIENCE_SECONDS,
            )

    def receiver(self, *statuses: int, delay: float = 0.0) -> str:
        if hasattr(self, "fake"):
            url = f"https://{uuid.uuid4().hex[:8]}.example/hooks"
            self.fake.answer(url, *(Reply(status, delay) for status in statuses))
            return url
        receiver = Receiver(list(statuses), delay).start()
        self.receivers[receiver.url] = receiver
        return receiver.url

    def closed(self) -> str:
        """A URL nobody listens at."""
        if hasattr(self, "fake"):
            url = "https://closed.example/hooks"
            self.fake.answer(url, Reply(error="ConnectionRefusedError: [Errno 111] refused"))
            return url
        receiver = Receiver().start()
        url = receiver.url
        receiver.stop()
        return url

    def received(self, url: str) -> list[tuple[bytes, str]]:
        """(body, signature header) of each POST the receiver got."""
        if hasattr(self, "fake"):
            return [(s.body, s.headers["Paygate-Signature"]) for s in self.fake.sent_to(url)]
        return [(r.body, r.headers["Paygate-Signature"]) for r in self.receivers[url].received]

    def stop(self) -> None:
        for receiver in self.receivers.values():
            receiver.stop()


@pytest.fixture
def sender(kind: str) -> Iterator[SenderUnderTest]:
    under_test = SenderUnderTest(kind)
    yield under_test
    under_test.stop()


HEADERS = {"Paygate-Signature": "t=1,v1=ab", "Paygate-Event-Id": "evt_p_2"}


def test_an_answer_in_time_is_its_status_and_the_post_arrives_as_sent(
    sender: SenderUnderTest,
) -> None:
    url = sender.receiver(503, 204)

    first = sender.sender.send(url, b'{"a":1}', HEADERS)
    second = sender.sender.send(url, b'{"a":2}', HEADERS, slow_lane=True)

    assert (first.status, first.timed_out, first.fast_enough, first.error) == (
        503,
        False,
        True,
        None,
    )
    assert (second.status, second.fast_enough) == (204, True)
    assert sender.received(url) == [(b'{"a":1}', "t=1,v1=ab"), (b'{"a":2}', "t=1,v1=ab")]


def test_a_closed_port_is_an_error_not_a_time_out(sender: SenderUnderTest) -> None:
    sent = sender.sender.send(sender.closed(), b"{}", HEADERS)

    assert sent.status is None and not sent.timed_out
    assert sent.error is not None and sent.error.startswith("ConnectionRefusedError")


def test_an_answer_slower_than_the_fast_lane_is_late_there_and_in_time_in_the_slow_lane(
    sender: SenderUnderTest,
) -> None:
    url = sender.receiver(200, delay=SLOW_ANSWER_SECONDS)

    fast = sender.sender.send(url, b"{}", HEADERS, keep_waiting=lambda: True)
    slow = sender.sender.send(url, b"{}", HEADERS, slow_lane=True)

    assert (fast.status, fast.timed_out, fast.error) == (None, True, "no answer within 1 s")
    assert (slow.status, slow.timed_out, slow.fast_enough) == (200, False, False)


def test_a_fast_lane_send_past_its_patience_is_cut_there_when_told_not_to_wait(
    sender: SenderUnderTest,
) -> None:
    url = sender.receiver(200, delay=SLOW_ANSWER_SECONDS)
    asked: list[bool] = []

    def no() -> bool:
        asked.append(False)
        return False

    sent = sender.sender.send(url, b"{}", HEADERS, keep_waiting=no)

    assert asked == [False]
    assert sent.timed_out and sent.status is None
    assert sent.error == "no answer within 0.3 s, its merchant's slow sends at their limit"
