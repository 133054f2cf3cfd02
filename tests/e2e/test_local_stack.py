from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from core.resources import BANK_LEDGER_TABLE, DEFAULT_PREFIX
from tests.e2e.conftest import RunningStack, port_is_free, start_test_stack, stop_stack
from tests.support import SENTINEL_CVV, SENTINEL_PAN, card_data_leaks

FINAL = {"Accepted", "Declined", "InsufficientFunds"}


def card(payment_id: str, merchant_id: str, amount: int) -> dict[str, Any]:
    return {
        "paymentId": payment_id,
        "merchantId": merchant_id,
        "cardNumber": SENTINEL_PAN,
        "cvv": SENTINEL_CVV,
        "expiryYear": 2031,
        "expiryMonth": 7,
        "currency": "EUR",
        "amount": amount,
        "cardName": "Ada Lovelace",
        "billingAddress": "12 Analytical Row, London",
    }


def create(stack: RunningStack) -> str:
    answer = stack.request("POST", "/create-payment", {"merchantId": stack.merchant_id})
    assert answer.status == 201, answer.body
    return str(answer.body["paymentId"])


def get(stack: RunningStack, payment_id: str) -> Any:
    return stack.request(
        "GET", f"/get-payment?merchantId={stack.merchant_id}&paymentId={payment_id}"
    )


def pay(stack: RunningStack, amount: int) -> str:
    payment_id = create(stack)
    answer = stack.request("POST", "/make-payment", card(payment_id, stack.merchant_id, amount))
    assert answer.status == 202, answer.body
    return payment_id


def wait_final(stack: RunningStack, payment_id: str, seconds: float = 30) -> dict[str, Any]:
    stack.wait_for(lambda: get(stack, payment_id).body["status"] in FINAL, seconds, payment_id)
    return dict(get(stack, payment_id).body)


def authorizations(stack: RunningStack, payment_id: str) -> int:
    item = (
        stack.aws("dynamodb")
        .get_item(
            TableName=BANK_LEDGER_TABLE.physical_name(DEFAULT_PREFIX),
            Key={"idempotencyKey": {"S": payment_id}},
            ConsistentRead=True,
        )
        .get("Item", {})
    )
    return int(item.get("authorizations", {}).get("N", "0"))


def test_create_get_and_tenancy_over_http(stack: RunningStack) -> None:
    # GIVEN a second merchant, created with the CLI
    output = stack.cli("merchants", "create", "Other Shop", "--merchant-id", "other-shop", "--json")
    other_key = json.loads(output)["apiKey"]

    # WHEN
    ids = {create(stack) for _ in range(10)}
    payment_id = next(iter(ids))
    fetched = get(stack, payment_id)
    as_other = stack.request(
        "GET", f"/get-payment?merchantId=other-shop&paymentId={payment_id}", api_key=other_key
    )
    unknown = get(stack, "00000000-0000-4000-8000-000000000000")
    no_key = stack.request("POST", "/create-payment", {"merchantId": "x"}, api_key="nope")

    # THEN
    assert len(ids) == 10
    assert (fetched.status, fetched.body["status"]) == (200, "Created")
    assert (as_other.status, as_other.body["failCode"]) == (404, "payment_not_found")
    assert unknown.status == 404
    assert (no_key.status, no_key.body["failCode"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("amount", "status", "fail_code"),
    [
        (1, "Declined", "card_declined"),
        (2, "InsufficientFunds", "insufficient_funds"),
        (24, "Accepted", None),
        (503, "Accepted", None),
        (1250, "Accepted", None),
    ],
)
def test_each_amount_reaches_its_status_over_http(
    stack: RunningStack, amount: int, status: str, fail_code: str | None
) -> None:
    payment_id = pay(stack, amount)

    view = wait_final(stack, payment_id)

    assert view["status"] == status
    assert view.get("failCode") == fail_code
    assert view["cardNumber"] == "************1543"
    assert authorizations(stack, payment_id) == 1


def test_a_504_goes_to_the_dlq_and_is_replayed_after_the_bank_recovers(
    bank_restored: RunningStack,
) -> None:
    stack = bank_restored
    # GIVEN a payment whose bank call never answers
    payment_id = pay(stack, 504)

    # WHEN the worker has given up on it
    stack.wait_for(lambda: payment_id in stack.cli("dlq", "list"), 90, "the job in the DLQ")
    listing = stack.cli("dlq", "list")
    assert "did not answer" in listing
    assert get(stack, payment_id).body["status"] == "Processing"
    assert authorizations(stack, payment_id) == 0

    # AND the bank answers again, and the job is replayed
    stack.cli("bank", "timeouts", "off")
    dry = stack.cli("dlq", "replay", "--payment-id", payment_id, "--dry-run")
    assert "would have replayed 1" in dry
    replay = stack.cli("dlq", "replay", "--payment-id", payment_id)

    # THEN it is final, authorized once, and the DLQ no longer holds it
    assert "replayed 1" in replay
    assert wait_final(stack, payment_id)["status"] == "Accepted"
    assert authorizations(stack, payment_id) == 1
    assert payment_id not in stack.cli("dlq", "list")


def test_a_load_of_200_payments_from_8_clients_all_finish_without_a_5xx(
    stack: RunningStack,
) -> None:
    amounts = [1, 2, 24, 503] + [100 + n for n in range(196)]

    def one_payment(amount: int) -> tuple[str, list[int]]:
        payment_id = create(stack)
        answer = stack.request("POST", "/make-payment", card(payment_id, stack.merchant_id, amount))
        return payment_id, [answer.status]

    with ThreadPoolExecutor(max_workers=8) as clients:
        results = list(clients.map(one_payment, amounts))

    statuses = [status for _, answers in results for status in answers]
    assert statuses == [202] * 200
    payment_ids = [payment_id for payment_id, _ in results]
    stack.wait_for(
        lambda: all(get(stack, p).body["status"] in FINAL for p in payment_ids),
        180,
        "all 200 payments to be final",
    )
    status = stack.cli("status")
    assert "payments Processing" not in status
    assert "payments Pending" not in status
    jobs = stack.aws("sqs").get_queue_attributes(
        QueueUrl=stack.state["environment"]["PAYGATE_JOBS_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert jobs == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_the_stack_refuses_a_taken_port_and_shuts_down_cleanly(tmp_path: Path) -> None:
    # GIVEN a second stack of its own
    second = start_test_stack(tmp_path)
    children = [
        int(second.state["workerPid"]),
        int(second.state["emulatorPid"]),
        *second.state["apiInstancePids"],
    ]
    assert len(children) == 3
    assert second.request("POST", "/create-payment", {"merchantId": "dev-merchant"}).status == 201

    # WHEN another one is started on its API port
    clash = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "--state-file",
            str(tmp_path / "other.json"),
            "local",
            "--port",
            str(second.ports[0]),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"COLUMNS": "250"},
    )

    # THEN it says what is wrong and how to choose another port, and exits
    assert "already in use" in clash.stderr
    assert "make run PORT=" in clash.stderr
    assert clash.returncode == 1

    # WHEN the stack is stopped with Ctrl-C
    code = stop_stack(second)

    # THEN it exits cleanly: no worker left, ports free, state file gone
    assert code == 0
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert port_is_free(second.ports[0])
    assert port_is_free(second.ports[1])
    assert not second.state_file.exists()
    assert card_data_leaks((tmp_path / "stack.log").read_text()) == []


def test_every_request_gets_one_access_line_and_a_request_id(stack: RunningStack) -> None:
    # WHEN a payment is created, a bad key is used, and a route is made up
    created = stack.request("POST", "/create-payment", {"merchantId": stack.merchant_id})
    refused = stack.request("POST", "/create-payment", {"merchantId": "x"}, api_key="nope-nope")
    request = urllib.request.Request(f"{stack.url}/no-such-route")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310

    # THEN each got a Request-Id, and the log has an access line for each, 401s included
    assert (created.status, refused.status, missing.value.code) == (201, 401, 404)
    assert missing.value.headers["Request-Id"]
    log = stack.state_file.parent / "stack.log"
    stack.wait_for(lambda: "status=404" in log.read_text(), 10, "the access lines")
    lines = [line for line in log.read_text().splitlines() if " request  " in line]
    assert any("status=201" in line and "path=/create-payment" in line for line in lines)
    assert any("status=401" in line and "merchantId=-" in line for line in lines)
    assert any("status=404" in line and "(no such route)" in line for line in lines)
    assert all("correlation_id=" in line for line in lines)
