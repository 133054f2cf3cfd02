"""The worker over a real (moto) SQS queue, driven as Lambda's event source would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cli.lambda_emulation import SqsEventSource, sqs_lambda_event
from core.bootstrap import Services
from core.domain.jobs import PaymentJob
from core.resources import MAX_RECEIVE_COUNT
from tests.conftest import ApiClient, AwsEnv
from tests.integration.worker_support import emitted_metrics, event_source, submit
from tests.support import FakeClock, card_data_leaks, lambda_context
from workers import payment_worker


@pytest.fixture
def worker(aws: AwsEnv, services: Services) -> SqsEventSource:
    return event_source(aws, services)


@pytest.mark.parametrize(
    ("amount", "status", "fail_code"),
    [
        (1, "Declined", "card_declined"),
        (2, "InsufficientFunds", "insufficient_funds"),
        (1250, "Accepted", None),
        (77, "Accepted", None),
    ],
)
def test_each_amount_ends_in_its_status(
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    worker: SqsEventSource,
    amount: int,
    status: str,
    fail_code: str | None,
) -> None:
    # GIVEN a submitted payment
    payment_id = submit(api, amount)

    # WHEN the worker drains the queue
    worker.drain()

    # THEN it is final, recorded once, its card erased, and the merchant sees why
    view = api.get_payment(payment_id).body
    assert view["status"] == status
    assert view.get("failCode") == fail_code
    if fail_code:
        assert view["failReason"]
    item = aws.raw_item(payment_id)
    assert item["version"] == {"N": "3"}
    assert "cardCiphertext" not in item
    assert "inFlight" not in item
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and ledger.authorizations == 1
    assert aws.queue_depth() == 0


def test_pending_is_checked_again_by_the_worker_until_accepted(
    api: ApiClient, aws: AwsEnv, services: Services, worker: SqsEventSource
) -> None:
    # GIVEN amount 24: the bank says Pending first
    payment_id = submit(api, 24)

    # WHEN the worker takes the job once
    worker.poll_once()

    # THEN the payment is Pending, its card erased (the bank has answered; the next check
    # goes by the idempotency key), and a re-check is queued
    assert api.get_payment(payment_id).body["status"] == "Pending"
    assert "cardCiphertext" not in aws.raw_item(payment_id)
    assert [job["paymentId"] for job in aws.queued_bodies()] == [payment_id]

    # WHEN the worker goes on, with no action from the merchant
    worker.drain()

    # THEN it is Accepted: Created 1, Processing 2, Pending 3, Accepted 4
    item = aws.raw_item(payment_id)
    assert item["status"] == {"S": "Accepted"}
    assert item["version"] == {"N": "4"}
    assert "cardCiphertext" not in item
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and ledger.authorizations == 1


def test_a_flaky_bank_is_retried_and_the_retries_are_counted(
    api: ApiClient,
    services: Services,
    worker: SqsEventSource,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN amount 503: the bank fails twice, then answers
    payment_id = submit(api, 503)

    # WHEN
    worker.drain()

    # THEN one delivery was enough: the retries happened inside it
    assert api.get_payment(payment_id).body["status"] == "Accepted"
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and (ledger.calls, ledger.authorizations) == (3, 1)
    output = capsys.readouterr().out
    print(output)
    metrics = emitted_metrics(output)
    assert metrics["BankRetries"] == 2
    assert metrics["PaymentsAccepted"] == 1
    assert "RecordsFailed" not in metrics


def test_a_bank_that_never_answers_sends_the_job_to_the_dlq(
    api: ApiClient, aws: AwsEnv, services: Services, worker: SqsEventSource
) -> None:
    # GIVEN amount 504: the bank never answers
    payment_id = submit(api, 504)

    # WHEN the worker keeps trying, as the event source mapping would
    failures = []
    for _ in range(MAX_RECEIVE_COUNT + 2):
        failures.append(worker.poll_once().failed)

    # THEN each delivery was reported failed, then SQS moved the job to the DLQ
    assert failures[:MAX_RECEIVE_COUNT] == [1] * MAX_RECEIVE_COUNT
    assert sum(failures) == MAX_RECEIVE_COUNT
    assert aws.queue_depth() == 0
    assert [job["paymentId"] for job in aws.queued_bodies(aws.dlq_url)] == [payment_id]
    assert api.get_payment(payment_id).body["status"] == "Processing"
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is None or ledger.authorizations == 0


def test_every_message_delivered_three_times_authorizes_once(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN three payments, each job received once from the real queue
    payment_ids = [submit(api, amount) for amount in (1250, 1, 2)]
    messages = aws.sqs.receive_message(
        QueueUrl=aws.settings.jobs_queue_url, MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 3
    event = sqs_lambda_event(messages, "arn:aws:sqs:us-east-1:123456789012:jobs", "us-east-1")

    # WHEN the same batch is delivered three times, and then a batch holding each job twice
    for _ in range(3):
        assert payment_worker.handle(event, lambda_context(), services)["batchItemFailures"] == []
    doubled = {"Records": event["Records"] * 2}
    assert payment_worker.handle(doubled, lambda_context(), services)["batchItemFailures"] == []

    # THEN each payment was authorized once and changed state once
    for payment_id in payment_ids:
        ledger = services.simulated_bank.ledger_entry(payment_id)
        assert ledger is not None and ledger.authorizations == 1
        assert aws.raw_item(payment_id)["version"] == {"N": "3"}


def test_a_batch_with_the_same_payment_twice_authorizes_once(
    api: ApiClient, aws: AwsEnv, services: Services, worker: SqsEventSource
) -> None:
    # GIVEN a payment whose job is on the queue twice (a duplicate send)
    payment_id = submit(api, 1250)
    services.jobs.publish(PaymentJob(payment_id, "duplicate"))

    # WHEN both arrive in one batch, processed concurrently
    report = worker.poll_once()

    # THEN
    assert (report.received, report.failed) == (2, 0)
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and ledger.authorizations == 1
    assert aws.raw_item(payment_id)["version"] == {"N": "3"}


@pytest.mark.parametrize(
    "poison_body",
    ["this is not JSON", json.dumps({"paymentId": "00000000-0000-4000-8000-000000000000"})],
    ids=["not JSON", "unknown paymentId"],
)
def test_one_poison_record_fails_alone(
    api: ApiClient, aws: AwsEnv, services: Services, poison_body: str
) -> None:
    # GIVEN nine good jobs and one poison record
    payment_ids = [submit(api, 1250) for _ in range(9)]
    aws.sqs.send_message(QueueUrl=aws.settings.jobs_queue_url, MessageBody=poison_body)
    messages = aws.sqs.receive_message(
        QueueUrl=aws.settings.jobs_queue_url, MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 10
    poison_id = next(m["MessageId"] for m in messages if m["Body"] == poison_body)
    event = sqs_lambda_event(messages, "arn:aws:sqs:us-east-1:123456789012:jobs", "us-east-1")

    # WHEN
    response = payment_worker.handle(event, lambda_context(), services)

    # THEN only the poison record is reported failed; the others are done
    assert response == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    for payment_id in payment_ids:
        assert aws.raw_item(payment_id)["status"] == {"S": "Accepted"}


def test_no_card_data_survives_in_items_or_queues(
    api: ApiClient, aws: AwsEnv, worker: SqsEventSource
) -> None:
    # GIVEN payments in every final state, and one still Pending
    for amount in (1, 2, 24, 503, 1250):
        submit(api, amount)
    jobs_before = aws.queued_bodies()

    # WHEN the worker has taken one pass over all of them
    worker.poll_once()

    # THEN a payment keeps its card's ciphertext only until the bank has answered, and
    # nothing anywhere holds the card in clear
    items = aws.payment_items()
    for item in items:
        answered = item["status"]["S"] != "Processing"
        assert ("cardCiphertext" in item) is not answered, item["status"]
    ledger = aws.dynamodb.scan(TableName=aws.settings.bank_ledger_table)["Items"]
    assert card_data_leaks(items, ledger, jobs_before, aws.queued_bodies()) == []


def test_a_crash_after_the_write_before_the_ack_is_acknowledged_on_redelivery(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN a Lambda that dies after the handler wrote the outcome, before SQS heard back
    payment_id = submit(api, 2)
    crashes: list[int] = []

    def dies_once_before_ack(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = payment_worker.handle(event, context, services)
        if not crashes:
            crashes.append(1)
            raise RuntimeError("Lambda died before acknowledging")
        return response

    # WHEN SQS redelivers
    SqsEventSource(aws.sqs, aws.settings.jobs_queue_url, dies_once_before_ack).drain()

    # THEN the duplicate was acknowledged without a second authorization or state change
    assert crashes == [1]
    item = aws.raw_item(payment_id)
    assert (item["status"], item["version"]) == ({"S": "InsufficientFunds"}, {"N": "3"})
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and (ledger.calls, ledger.authorizations) == (1, 1)
    assert aws.queue_depth() == 0


def test_get_payment_says_when_to_poll_again_while_in_flight_and_not_once_final(
    api: ApiClient, clock: FakeClock, worker: SqsEventSource
) -> None:
    # GIVEN a payment just submitted (amount 24: Pending first)
    payment_id = submit(api, 24)

    # THEN polling it says: again in a second; and less often the longer it waits
    assert api.get_payment(payment_id).headers["Retry-After"] == "1"
    clock.advance(30)
    assert api.get_payment(payment_id).headers["Retry-After"] == "15"

    # WHEN the bank says Pending, THEN not before the worker's re-check
    worker.poll_once()
    pending = api.get_payment(payment_id)
    assert pending.body["status"] == "Pending"
    assert int(pending.headers["Retry-After"]) >= 1

    # WHEN it is final, THEN no Retry-After: nothing more will change
    worker.drain()
    accepted = api.get_payment(payment_id)
    assert accepted.body["status"] == "Accepted"
    assert "Retry-After" not in accepted.headers
