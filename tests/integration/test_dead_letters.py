from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from core.adapters.sqs_jobs import queue_depth
from core.bootstrap import Services
from core.domain.dead_letters import LetterFilter, LetterKind
from tests.conftest import ApiClient, AwsEnv
from tests.faults import throttle
from tests.integration.worker_support import dead_letters, event_source, submit
from tests.support import SENTINEL_PAN, card_data_leaks


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
    letters_queue = dead_letters(aws, services)

    # WHEN
    letters = letters_queue.list()

    # THEN
    reasons = {letter.payment_id: letter.last_error for letter in letters}
    assert reasons == {
        payment_id: "the bank is unavailable (simulated outage)",
        None: "not a payment job",
    }
    assert letters_queue.depth().total == 2


def test_replay_moves_only_what_was_asked_and_dry_run_moves_nothing(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN three in-flight payments whose jobs are in the DLQ
    ids = [submit(api, 1250) for _ in range(3)]
    _in_dlq(aws, *ids)
    letters_queue = dead_letters(aws, services)

    dry = letters_queue.replay(only=LetterFilter(payment_id=ids[1]), dry_run=True)
    assert len(dry.replayed) == 1
    assert letters_queue.depth().total == 3
    assert aws.queue_depth() == 0

    report = letters_queue.replay(only=LetterFilter(payment_id=ids[1]))
    assert (len(report.replayed), report.left) == (1, 2)
    assert [job["paymentId"] for job in aws.queued_bodies()] == [ids[1]]
    assert sorted(j["paymentId"] for j in aws.queued_bodies(aws.dlq_url)) == sorted(
        [ids[0], ids[2]]
    )

    rest = letters_queue.replay(limit=1)
    assert len(rest.replayed) == 1
    assert aws.queue_depth() == 2
    assert letters_queue.depth().total == 1


def _in_dlq(aws: AwsEnv, *payment_ids: str) -> None:
    """Jobs of these payments sit in the DLQ (and nowhere else)."""
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    for payment_id in payment_ids:
        aws.sqs.send_message(
            QueueUrl=aws.dlq_url, MessageBody=json.dumps({"paymentId": payment_id})
        )


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
    letters_queue = dead_letters(aws, services)

    # WHEN they are listed and a replay is asked for
    letters = letters_queue.list()
    report = letters_queue.replay()

    # THEN each is poison: shown, never re-queued, and all of them visible again at once
    assert sorted(letter.kind for letter in letters) == [LetterKind.POISON] * len(POISON_BODIES)
    assert (report.replayed, report.left) == ([], len(POISON_BODIES))
    assert aws.queue_depth() == 0
    assert _visible_now(aws) == len(POISON_BODIES)


def test_a_replay_that_fails_midway_leaves_nothing_hidden_and_nothing_lost(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN three jobs of in-flight payments in the DLQ
    _in_dlq(aws, *(submit(api, 1250) for _ in range(3)))
    letters_queue = dead_letters(aws, services)

    # WHEN SQS refuses the sends of a replay
    with throttle(services.clients.sqs, "SendMessage", times=100), pytest.raises(ClientError):
        letters_queue.replay()

    # THEN every message is still in the DLQ, visible at once for the next attempt
    assert _visible_now(aws) == 3
    assert len(letters_queue.replay().replayed) == 3
    assert aws.queue_depth() == 3


def test_stale_copies_of_final_payments_are_marked_and_dropped_by_replay(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN a payment that went final, with a stale copy of its job in the DLQ, beside a
    # job of a payment still in flight
    final = submit(api, 1250)
    event_source(aws, services).drain()
    in_flight = submit(api, 1250)
    _in_dlq(aws, final, in_flight)
    letters_queue = dead_letters(aws, services)

    # WHEN ops list, then replay
    kinds = {letter.payment_id: letter.kind for letter in letters_queue.list()}
    report = letters_queue.replay()

    # THEN the stale copy is marked and dropped (reported), the live job replayed, and the
    # DLQ is empty (its alarm clears)
    assert kinds == {final: LetterKind.STALE, in_flight: LetterKind.JOB}
    assert [letter.payment_id for letter in report.dropped_stale] == [final]
    assert [letter.payment_id for letter in report.replayed] == [in_flight]
    assert letters_queue.depth().total == 0
    assert [job["paymentId"] for job in aws.queued_bodies()] == [in_flight]


def test_a_failing_look_at_a_payment_still_releases_every_message(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN three jobs in the DLQ, and DynamoDB throttling the first read of a payment
    _in_dlq(aws, *(submit(api, 1250) for _ in range(3)))

    # WHEN ops list the DLQ
    with throttle(services.clients.dynamodb, "GetItem"):
        letters = dead_letters(aws, services).list()

    # THEN the one it could not read is still shown (as a job: replaying is safe), and every
    # message is visible again at once
    assert len(letters) == 3
    assert sum("could not be read" in letter.last_error for letter in letters) == 1
    assert _visible_now(aws) == 3


def test_a_job_of_a_payment_not_in_flight_is_poison_and_never_replayed(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    _in_dlq(aws, api.create_payment())
    letters_queue = dead_letters(aws, services)

    (letter,) = letters_queue.list()
    report = letters_queue.replay()

    assert letter.kind is LetterKind.POISON
    assert "not in flight" in letter.last_error
    assert (report.replayed, report.left) == ([], 1)
    assert aws.queue_depth() == 0


def test_a_body_that_may_hold_a_card_is_withheld_and_a_job_is_replayed_as_we_write_one(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN a poison body with a card number, and a "job" that carries more than a job
    payment_id = submit(api, 1250)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    for body in (
        json.dumps({"pan": "4242_4242_4242_4242"}),
        json.dumps({"paymentId": payment_id, "note": f"card {SENTINEL_PAN} cvv 123"}),
    ):
        aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=body)
    letters_queue = dead_letters(aws, services)

    # WHEN ops list and replay
    letters = letters_queue.list()
    report = letters_queue.replay()

    # THEN neither is shown with its card nor replayed (both are poison: our jobs hold a
    # payment id and a correlation id, nothing else)
    assert [letter.kind for letter in letters] == [LetterKind.POISON, LetterKind.POISON]
    assert card_data_leaks([letter.body_preview for letter in letters]) == []
    assert "4242" not in "".join(letter.body_preview for letter in letters)
    assert report.replayed == []
    assert aws.queue_depth() == 0


@pytest.mark.parametrize(
    ("put_throttled", "update_throttled"),
    [(1, 0), (3, 3)],
    ids=["once", "for a while, the failure note too"],
)
def test_a_job_whose_status_write_failed_says_so_in_the_dead_letter_queue(
    api: ApiClient, aws: AwsEnv, services: Services, put_throttled: int, update_throttled: int
) -> None:
    # GIVEN a payment the bank accepts, whose status write DynamoDB throttles; for a while,
    # the failure note beside it too (an UpdateItem on the same item)
    payment_id = submit(api, 1250)
    job = aws.queued_bodies()[0]
    payments = aws.settings.payments_table
    dynamodb = services.clients.dynamodb
    with (
        throttle(dynamodb, "PutItem", times=put_throttled, table=payments),
        throttle(dynamodb, "UpdateItem", times=update_throttled, table=payments) as notes,
    ):
        # WHEN the worker takes the job, and it ends in the DLQ
        assert event_source(aws, services).poll_once().failed == 1
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=json.dumps(job))

    # THEN the letter gives the real cause: the bank answered, recording it failed
    assert notes.fired == update_throttled
    (letter,) = dead_letters(aws, services).list()
    assert letter.payment_id == payment_id
    assert letter.last_error == (
        "the bank's answer (Accepted) was not recorded: PutItem failed: ThrottlingException"
    )
