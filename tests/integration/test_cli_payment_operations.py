"""`paygate payments capture | void | refund` as ops and scripts use them on the local stack
(its gateway served in-process on the emulator, the worker driven as Lambda's event source):
each prints what the API answered, a refusal is one line and exit 1 (with --json the API's
answer too), and `payments get` shows what was captured and each refund."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cli.local_state import DEV_MERCHANT_ID
from cli.main import app
from core.bootstrap import Services
from tests.conftest import ApiClient, AwsEnv, make_payment_body
from tests.integration.gateway_support import served_gateway, write_state_file
from tests.integration.worker_support import event_source

AMOUNT = 1250


@pytest.fixture
def aws(emulated_aws: AwsEnv) -> AwsEnv:
    """The paygate CLI only talks to an emulator on loopback."""
    return emulated_aws


@pytest.fixture
def merchant(services: Services) -> ApiClient:
    """The development merchant, as the local stack registers it."""
    return ApiClient(services, DEV_MERCHANT_ID)


@pytest.fixture
def state(services: Services, aws: AwsEnv, tmp_path: Path) -> Iterator[Path]:
    """A running local stack's state file, holding the development merchant's key."""
    issued = services.merchants.create_merchant(
        DEV_MERCHANT_ID, "Development merchant", created_at=0, actor="test"
    )
    with served_gateway(services) as port:
        yield write_state_file(tmp_path / "local.json", aws, port, api_key=issued.api_key)


def _cli(state: Path, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """The command run as on a shell without PAYGATE_API_KEY, unless `env` sets it."""
    environment: dict[str, str | None] = {"PAYGATE_API_KEY": None, **(env or {})}
    return CliRunner().invoke(app, ["--state-file", str(state), *args], env=environment)


def _printed(text: str) -> str:
    """What the command printed: the API answers in this process here, and its log and
    metric lines share our stdout and stderr."""
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(('{"level"', '{"_aws"'))
    )


def _document(result: Result) -> Any:
    return json.loads(_printed(result.stdout))


def _json(state: Path, *args: str) -> Any:
    result = _cli(state, *args, "--json")
    assert result.exit_code == 0, result.output
    return _document(result)


def _paid(merchant: ApiClient, aws: AwsEnv, capture_method: str) -> str:
    """A payment of AMOUNT the bank answered: Authorized (manual) or Accepted (automatic)."""
    payment_id = merchant.create_payment()
    body = make_payment_body(
        payment_id, DEV_MERCHANT_ID, amount=AMOUNT, captureMethod=capture_method
    )
    assert merchant.post("/make-payment", body).status == 202
    _work(merchant, aws)
    return payment_id


def _work(merchant: ApiClient, aws: AwsEnv) -> None:
    """The worker does every job queued (the bank answers each)."""
    event_source(aws, merchant.services).drain()


def test_capture_part_then_refunds_print_the_apis_answers_and_get_shows_each_step(
    merchant: ApiClient, aws: AwsEnv, state: Path
) -> None:
    # GIVEN an Authorized payment of 1250
    payment_id = _paid(merchant, aws, "manual")

    # WHEN ops capture 1000 of it, then refund 300 and 3 (the bank declines a refund of 3)
    captured = _json(state, "payments", "capture", payment_id, "--amount", "1000")
    _work(merchant, aws)
    refund = _json(
        state, "payments", "refund", payment_id, "--amount", "300", "--reason", "returned goods"
    )
    declined = _json(state, "payments", "refund", payment_id, "--amount", "3")
    _work(merchant, aws)
    shown = _json(state, "payments", "get", payment_id)
    human = _cli(state, "payments", "get", payment_id)

    # THEN each command printed the API's answer: the capture under way, each refund Pending
    assert (captured["paymentId"], captured["status"]) == (payment_id, "Authorized")
    assert captured["settling"] == "capture"
    assert refund == {
        "refundId": refund["refundId"],
        "paymentId": payment_id,
        "amount": 300,
        "status": "Pending",
    }
    assert declined["status"] == "Pending"
    # and get shows what was captured and each refund as the bank answered it
    assert (shown["status"], shown["capturedAmount"], shown["refundedAmount"]) == (
        "Accepted",
        1000,
        300,
    )
    first, second = shown["refunds"]
    assert (first["refundId"], first["status"], first["reason"]) == (
        refund["refundId"],
        "Succeeded",
        "returned goods",
    )
    assert (second["refundId"], second["status"], second["failCode"]) == (
        declined["refundId"],
        "Failed",
        "refund_declined",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["createdAt"])
    # and a person reads the same on the terminal, each refund on lines of its own
    assert human.exit_code == 0, human.output
    assert re.search(r"capturedAmount\s+1000\n", human.stdout)
    assert re.search(r"refunds\s+1 Succeeded, 1 Failed\n", human.stdout)
    assert f"refunds of {payment_id}: 2" in human.stdout
    assert re.search(rf"refund\s+{refund['refundId']}\n", human.stdout)
    assert re.search(r"failCode\s+refund_declined\n", human.stdout)


def test_a_void_releases_the_authorization(merchant: ApiClient, aws: AwsEnv, state: Path) -> None:
    # GIVEN an Authorized payment
    payment_id = _paid(merchant, aws, "manual")

    # WHEN ops void it (as a person reads it)
    voided = _cli(state, "payments", "void", payment_id)
    _work(merchant, aws)

    # THEN the API's answer was shown, and the payment is Voided at the merchant's request
    assert voided.exit_code == 0, voided.output
    assert re.search(r"settling\s+void\n", voided.stdout)
    assert f"paygate payments get {payment_id}" in voided.stdout
    shown = _json(state, "payments", "get", payment_id)
    assert (shown["status"], shown["voidReason"]) == ("Voided", "requested_by_merchant")


@pytest.mark.parametrize(
    ("command", "status", "fail_code"),
    [
        (("refund", "{paid}", "--amount", "1251"), 409, "refund_exceeds_captured"),
        (("capture", "{paid}"), 409, "payment_not_capturable"),
        (("void", "00000000-0000-4000-8000-000000000001"), 404, "payment_not_found"),
        (("refund", "{paid}", "--amount", "0"), 422, "validation_failed"),
    ],
)
def test_a_refusal_is_one_line_and_exit_1_and_scripts_get_the_apis_answer(
    merchant: ApiClient,
    aws: AwsEnv,
    state: Path,
    command: tuple[str, ...],
    status: int,
    fail_code: str,
) -> None:
    # GIVEN an Accepted payment of 1250 (captured whole)
    paid = _paid(merchant, aws, "automatic")
    args = [part.format(paid=paid) for part in command]

    # WHEN ops ask what the API refuses, as a person and as a script
    person = _cli(state, "payments", *args)
    script = _cli(state, "payments", *args, "--json")

    # THEN one line says why, exit 1; the script reads the API's answer
    assert person.exit_code == 1 and _printed(person.stdout) == "", person.output
    [line] = _printed(person.stderr).strip().splitlines()
    assert f"refused ({status} {fail_code})" in line
    assert script.exit_code == 1
    document = _document(script)
    assert (document["exitCode"], document["httpStatus"]) == (1, status)
    assert document["answer"]["failCode"] == fail_code
    # and nothing was refunded
    assert "refunds" not in _json(state, "payments", "get", paid)


def test_the_same_idempotency_key_answers_the_same_refund_and_refunds_once(
    merchant: ApiClient, aws: AwsEnv, state: Path
) -> None:
    # GIVEN an Accepted payment
    payment_id = _paid(merchant, aws, "automatic")
    refund = ("payments", "refund", payment_id, "--idempotency-key", "return-4411")

    # WHEN ops run the same refund twice (a retry after a lost answer), then reuse the key
    first = _json(state, *refund, "--amount", "500")
    again = _json(state, *refund, "--amount", "500")
    reused = _cli(state, *refund, "--amount", "600")
    _work(merchant, aws)

    # THEN one refund, answered twice; the key reused for another refund is refused
    assert again == first
    assert reused.exit_code == 1 and "idempotency_key_reused" in reused.stderr
    refunds = _json(state, "payments", "get", payment_id)["refunds"]
    assert [(r["refundId"], r["status"]) for r in refunds] == [(first["refundId"], "Succeeded")]


def test_the_merchants_key_is_needed_and_a_wrong_one_says_how_to_give_it(
    aws: AwsEnv, services: Services, tmp_path: Path
) -> None:
    # GIVEN a stack whose state file holds no key for its development merchant
    with served_gateway(services) as port:
        state = write_state_file(tmp_path / "local.json", aws, port)
        payment = "00000000-0000-4000-8000-000000000001"

        # WHEN ops refund without a key, then with a wrong one in the environment
        keyless = _cli(state, "payments", "refund", payment, "--amount", "5")
        wrong = _cli(
            state,
            *("payments", "refund", payment, "--amount", "5"),
            env={"PAYGATE_API_KEY": "pg_wrongwrongwrongwrongwrong"},
        )

    # THEN each says how to give the merchant's key: usage (2), then refused (1)
    assert keyless.exit_code == 2 and "PAYGATE_API_KEY" in keyless.stderr
    assert wrong.exit_code == 1, wrong.output
    assert "refused (401 unauthorized)" in wrong.stderr and "--api-key" in wrong.stderr
