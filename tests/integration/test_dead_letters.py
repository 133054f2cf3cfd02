from __future__ import annotations

import json

from core.bootstrap import Services
from core.dead_letters import DeadLetterQueue
from tests.conftest import ApiClient, AwsEnv
from tests.integration.test_payment_worker import event_source, submit


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
    aws: AwsEnv, services: Services
) -> None:
    for n in range(3):
        aws.sqs.send_message(
            QueueUrl=aws.dlq_url,
            MessageBody=json.dumps({"paymentId": f"p-{n}", "correlationId": "c"}),
        )
    dead_letters = _dead_letters(aws, services)

    dry = dead_letters.replay(payment_id="p-1", dry_run=True)
    assert len(dry.replayed) == 1
    assert dead_letters.depth().total == 3
    assert aws.queue_depth() == 0

    report = dead_letters.replay(payment_id="p-1")
    assert (len(report.replayed), report.skipped) == (1, 2)
    assert [job["paymentId"] for job in aws.queued_bodies()] == ["p-1"]
    assert sorted(j["paymentId"] for j in aws.queued_bodies(aws.dlq_url)) == ["p-0", "p-2"]

    rest = dead_letters.replay(limit=1)
    assert len(rest.replayed) == 1
    assert aws.queue_depth() == 2
    assert dead_letters.depth().total == 1
