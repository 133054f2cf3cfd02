"""The money lifecycle on moto through the real handlers, the worker driven as Lambda's SQS
event source, and the simulated bank's DynamoDB ledger: captures, voids and refunds move
money at most once each, and refunds never pass what was captured, under concurrency,
crashes, lost answers and throttling."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cli.lambda_emulation import SqsEventSource
from core.bootstrap import Services
from core.domain.dead_letters import LetterKind
from core.domain.errors import PaygateError
from handlers.http_errors import http_error_of
from tests.conftest import ApiClient, AwsEnv, make_payment_body
from tests.faults import crash_after, lose_response, throttle
from tests.integration.worker_support import dead_letters, event_source

THREADS = 8


@pytest.fixture
def worker(aws: AwsEnv, services: Services) -> SqsEventSource:
    return event_source(aws, services)


def _paid(api: ApiClient, worker: SqsEventSource, amount: int, method: str) -> str:
    payment_id = api.create_payment()
    body = make_payment_body(payment_id, amount=amount) | {"captureMethod": method}
    assert api.post("/make-payment", body).status == 202
    worker.drain()
    return payment_id


def _ask(
    api: ApiClient, path: str, payment_id: str, **fields: object
) -> tuple[int, dict[str, Any]]:
    body = {"merchantId": api.merchant_id, "paymentId": payment_id} | fields
    response = api.post(path, body)
    return response.status, response.body


def _moved(services: Services, key: str) -> int:
    entry = services.simulated_bank.ledger_entry(key)
    return entry.moved if entry else 0


def test_authorize_capture_part_refund_part_twice_and_see_every_step(
    api: ApiClient, services: Services, worker: SqsEventSource
) -> None:
    payment_id = _paid(api, worker, 1250, "manual")
    view = api.get_payment(payment_id).body
    assert (view["status"], view["captureMethod"]) == ("Authorized", "manual")

    status, asked = _ask(api, "/capture-payment", payment_id, amount=1000)
    assert (status, asked["status"], asked["settling"]) == (202, "Authorized", "capture")
    worker.drain()
    assert _moved(services, f"{payment_id}:capture") == 1000

    refunds = [_ask(api, "/refund-payment", payment_id, amount=a) for a in (300, 200)]
    assert [(s, b["status"], b["amount"]) for s, b in refunds] == [
        (202, "Pending", 300),
        (202, "Pending", 200),
    ]
    worker.drain()

    view = api.get_payment(payment_id).body
    assert (view["status"], view["capturedAmount"], view["refundedAmount"]) == (
        "Accepted",
        1000,
        500,
    )
    assert [(r["refundId"], r["status"]) for r in view["refunds"]] == [
        (b["refundId"], "Succeeded") for _, b in refunds
    ]
    assert sum(_moved(services, b["refundId"]) for _, b in refunds) == 500
    status, refused = _ask(api, "/refund-payment", payment_id, amount=501)
    assert (status, refused["failCode"]) == (409, "refund_exceeds_captured")


def test_refunds_racing_from_many_instances_never_pass_the_captured_amount(
    api: ApiClient, services: Services, worker: SqsEventSource
) -> None:
    # GIVEN 1000 captured, and eight instances each refunding 300 at the same moment
    payment_id = _paid(api, worker, 1000, "automatic")
    barrier = threading.Barrier(THREADS)
    merchant = api.merchant_id or ""

    def refund(n: int) -> int:
        barrier.wait()
        try:
            services.payment_operations.refund(
                merchant, merchant, payment_id, 300, None, f"req-{n}"
            )
        except PaygateError as error:
            return http_error_of(error).status
        return 202

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(refund, range(THREADS)))
    worker.drain()

    # THEN three are taken and the rest refused (409), or told to retry (503), never more
    assert statuses.count(202) == 3
    assert set(statuses) - {202} <= {409, 503}
    view = api.get_payment(payment_id).body
    assert view["refundedAmount"] == 900
    assert sum(_moved(services, r["refundId"]) for r in view["refunds"]) == 900


def test_a_refund_declined_by_the_bank_is_failed_and_frees_its_amount(
    api: ApiClient, services: Services, worker: SqsEventSource
) -> None:
    payment_id = _paid(api, worker, 1000, "automatic")
    _ask(api, "/refund-payment", payment_id, amount=3)
    worker.drain()
    (refund,) = api.get_payment(payment_id).body["refunds"]
    assert (refund["status"], refund["failCode"]) == ("Failed", "refund_declined")
    assert _ask(api, "/refund-payment", payment_id, amount=1000)[0] == 202


@pytest.mark.parametrize(
    "fault",
    ["crash after the bank answered and the write landed", "lost answer", "throttled"],
)
def test_a_refund_hit_by_a_fault_moves_money_once(
    api: ApiClient, services: Services, worker: SqsEventSource, fault: str
) -> None:
    payment_id = _paid(api, worker, 1000, "automatic")
    _, asked = _ask(api, "/refund-payment", payment_id, amount=250)
    dynamodb = services.clients.dynamodb
    # (A failed invocation's batch is visible again at once: SQS hands it over again.)
    if fault.startswith("crash"):
        with crash_after(dynamodb, "PutItem"):
            assert worker.poll_once().failed == 1
    elif fault == "lost answer":
        with lose_response(dynamodb, "PutItem"):
            worker.poll_once()
    else:
        with throttle(dynamodb, "PutItem", times=3):
            assert worker.poll_once().failed == 1
    worker.drain()

    view = api.get_payment(payment_id).body
    assert view["refunds"][0]["status"] == "Succeeded"
    assert _moved(services, asked["refundId"]) == 250
    entry = services.simulated_bank.ledger_entry(asked["refundId"])
    assert entry is not None and entry.calls >= 1


def test_a_void_and_an_operation_on_a_payment_in_the_wrong_state_or_of_another_merchant(
    api: ApiClient, services: Services, worker: SqsEventSource
) -> None:
    payment_id = _paid(api, worker, 1250, "manual")
    assert _ask(api, "/refund-payment", payment_id, amount=1)[1]["failCode"] == (
        "payment_not_refundable"
    )
    other = api.as_merchant("merchant-b")
    assert _ask(other, "/void-payment", payment_id)[0] == 404
    assert _ask(api, "/void-payment", payment_id)[0] == 202
    assert _ask(api, "/capture-payment", payment_id)[1]["failCode"] == "payment_not_capturable"
    worker.drain()
    view = api.get_payment(payment_id).body
    assert (view["status"], view["voidReason"]) == ("Voided", "requested_by_merchant")
    assert _moved(services, f"{payment_id}:capture") == 0


def test_a_refund_whose_job_reached_the_dlq_is_listed_as_a_job_and_replayed_once(
    api: ApiClient, aws: AwsEnv, services: Services, worker: SqsEventSource
) -> None:
    # GIVEN a refund asked while the bank is out, its job failed to the DLQ
    payment_id = _paid(api, worker, 1000, "automatic")
    _, asked = _ask(api, "/refund-payment", payment_id, amount=250)
    services.bank_controls.set_outage(True)
    job = aws.queued_bodies()[0]
    assert worker.poll_once().failed == 1
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=json.dumps(job))
    letters = dead_letters(aws, services)

    # THEN ops see a job to replay (not a stale copy of a final payment), and why
    (letter,) = letters.list()
    assert (letter.kind, letter.payment_id) == (LetterKind.JOB, payment_id)
    assert letter.last_error == "the bank is unavailable (simulated outage)"

    # WHEN the bank is back and ops replay it, twice over (a replay run that died)
    services.bank_controls.set_outage(False)
    assert len(letters.replay().replayed) == 1
    aws.sqs.send_message(QueueUrl=aws.settings.jobs_queue_url, MessageBody=json.dumps(job))
    worker.drain()

    # THEN the refund succeeded and the bank moved its money once
    assert api.get_payment(payment_id).body["refunds"][0]["status"] == "Succeeded"
    assert _moved(services, asked["refundId"]) == 250


def test_a_payment_accepted_before_captures_were_recorded_is_refunded_like_any_other(
    api: ApiClient, aws: AwsEnv, services: Services, worker: SqsEventSource
) -> None:
    # GIVEN an Accepted payment's item as written before this release: no capturedAmount
    payment_id = _paid(api, worker, 1000, "automatic")
    aws.dynamodb.update_item(
        TableName=aws.settings.payments_table,
        Key={"paymentId": {"S": payment_id}},
        UpdateExpression="REMOVE capturedAmount",
    )
    assert "capturedAmount" not in aws.raw_item(payment_id)

    # WHEN it is refunded in full
    status, asked = _ask(api, "/refund-payment", payment_id, amount=1000)
    worker.drain()

    # THEN its whole amount counted as captured
    assert status == 202
    view = api.get_payment(payment_id).body
    assert (view["capturedAmount"], view["refundedAmount"]) == (1000, 1000)
    assert _moved(services, asked["refundId"]) == 1000
