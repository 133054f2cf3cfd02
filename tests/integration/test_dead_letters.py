from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from core.bootstrap import Services
from core.dead_letters import DeadLetterQueue, LetterKind
from core.job_queue import queue_depth
from tests.conftest import ApiClient, AwsEnv
from tests.faults import throttle
from tests.integration.worker_support import event_source, submit


def _dead_letters(aws: AwsEnv, services: Services) -> DeadLetterQueue:
    return DeadLetterQueue(aws.sqs, aws.dlq_url, aws.settings.jobs_queue_url, services.payments)


def test_listing_shows_each_letter_and_why_and_leaves_it_in_place(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN a payment the bank failed on (its job moved to the DLQ), and a message that
    # is no job at all
    payment_id = submit(api, 1250)
    services.bank_controls.set_outage(True)
    job = aws.queued_bodies()[0]
    assert event_source(aws, services).poll_once().failed == 1
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=json.dumps(job))
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody="garbage")
    dead_letters = _dead_letters(aws, services)

    # WHEN
    letters = dead_letters.list()

    # THEN
    reasons = {letter.payment_id: letter.last_error for letter in letters}
    assert reasons == {
        payment_id: "the bank is unavailable (simulated outage)",
        None: "not a payment job",
    }
    assert dead_letters.depth().total == 2


def test_replay_moves_only_what_was_asked_and_dry_run_moves_nothing(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN three in-flight payments whose jobs are in the DLQ
    ids = []
    for _ in range(3):
        ids.append(submit(api, 1250))
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    for payment_id in ids:
        aws.sqs.send_message(
            QueueUrl=aws.dlq_url,
            MessageBody=json.dumps({"paymentId": payment_id, "correlationId": "c"}),
        )
    dead_letters = _dead_letters(aws, services)

    dry = dead_letters.replay(payment_id=ids[1], dry_run=True)
    assert len(dry.replayed) == 1
    assert dead_letters.depth().total == 3
    assert aws.queue_depth() == 0

    report = dead_letters.replay(payment_id=ids[1])
    assert (len(report.replayed), report.left) == (1, 2)
    assert [job["paymentId"] for job in aws.queued_bodies()] == [ids[1]]
    assert sorted(j["paymentId"] for j in aws.queued_bodies(aws.dlq_url)) == sorted(
        [ids[0], ids[2]]
    )

    rest = dead_letters.replay(limit=1)
    assert len(rest.replayed) == 1
    assert aws.queue_depth() == 2
    assert dead_letters.depth().total == 1


def _visible_now(aws: AwsEnv) -> int:
    """Messages anyone can receive at once (none hidden by a look that went wrong)."""
    return queue_depth(aws.sqs, aws.dlq_url).visible


POISON_BODIES = [
    ("deeply nested", "[" * 5000),
    ("huge", json.dumps({"paymentId": "x" * 200_000})),
    ("control characters", "\x01\x02\ufffd" * 100),
    ("not an object", "[1, 2, 3]"),
]


def test_the_dlq_tools_survive_any_body_and_leave_every_message_visible(
    aws: AwsEnv, services: Services
) -> None:
    # GIVEN bodies that are no job at all
    for _, body in POISON_BODIES:
        aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=body)
    dead_letters = _dead_letters(aws, services)

    # WHEN they are listed and a replay is asked for
    letters = dead_letters.list()
    report = dead_letters.replay()

    # THEN each is poison: shown, never re-queued, and all of them visible again at once
    assert sorted(letter.kind for letter in letters) == [LetterKind.POISON] * len(POISON_BODIES)
    assert (report.replayed, report.left) == ([], len(POISON_BODIES))
    assert aws.queue_depth() == 0
    assert _visible_now(aws) == len(POISON_BODIES)


def test_a_replay_that_fails_midway_leaves_nothing_hidden_and_nothing_lost(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN three jobs of in-flight payments in the DLQ
    for _ in range(3):
        payment_id = submit(api, 1250)
        aws.sqs.send_message(
            QueueUrl=aws.dlq_url, MessageBody=json.dumps({"paymentId": payment_id})
        )
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    dead_letters = _dead_letters(aws, services)

    # WHEN SQS refuses the sends of a replay
    with throttle(services.clients.sqs, "SendMessage", times=100), pytest.raises(ClientError):
        DeadLetterQueue(
            services.clients.sqs, aws.dlq_url, aws.settings.jobs_queue_url, services.payments
        ).replay()

    # THEN every message is still in the DLQ, visible at once for the next attempt
    assert _visible_now(aws) == 3
    assert len(dead_letters.replay().replayed) == 3
    assert aws.queue_depth() == 3


def test_stale_copies_of_final_payments_are_marked_and_dropped_by_replay(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN a payment that went final, with a stale copy of its job in the DLQ, beside a
    # job of a payment still in flight
    final = submit(api, 1250)
    event_source(aws, services).drain()
    in_flight = submit(api, 1250)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    for payment_id in (final, in_flight):
        aws.sqs.send_message(
            QueueUrl=aws.dlq_url, MessageBody=json.dumps({"paymentId": payment_id})
        )
    dead_letters = _dead_letters(aws, services)

    # WHEN ops list, then replay
    kinds = {letter.payment_id: letter.kind for letter in dead_letters.list()}
    report = dead_letters.replay()

    # THEN the stale copy is marked and dropped (reported), the live job replayed, and the
    # DLQ is empty (its alarm clears)
    assert kinds == {final: LetterKind.STALE, in_flight: LetterKind.JOB}
    assert [letter.payment_id for letter in report.dropped_stale] == [final]
    assert [letter.payment_id for letter in report.replayed] == [in_flight]
    assert dead_letters.depth().total == 0
    assert [job["paymentId"] for job in aws.queued_bodies()] == [in_flight]
