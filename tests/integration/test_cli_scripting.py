"""The paygate command as scripts and on-call use it: ids are never cut short at 80
columns or in a pipe, every command takes --json and prints one JSON document, numeric
options are bounded, each command's --help shows examples, and a replay says when it
leaves payments in flight."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cli.main import app
from core.adapters.sqs_jobs import queue_depth
from core.bootstrap import Services
from core.domain.bank_simulation import TIMEOUT_AMOUNT
from core.resources import MAX_RECEIVE_COUNT
from tests.conftest import ApiClient, AwsEnv
from tests.integration.gateway_support import served_gateway, write_state_file
from tests.integration.worker_support import event_source, submit


@pytest.fixture
def aws(emulated_aws: AwsEnv) -> AwsEnv:
    """This module drives the paygate CLI, which only talks to an emulator on loopback."""
    return emulated_aws


@pytest.fixture
def state(services: Services, aws: AwsEnv, tmp_path: Path) -> Iterator[Path]:
    with served_gateway(services) as port:
        yield write_state_file(tmp_path / "local.json", aws, port)


def _run(state: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--state-file", str(state), *args], env={"COLUMNS": "80"})
    return result.exit_code, result.stdout


def test_ids_are_never_cut_short_in_a_narrow_pipe(api: ApiClient, aws: AwsEnv, state: Path) -> None:
    # GIVEN a payment whose job is in the DLQ
    payment_id = submit(api, 1250)
    message_id = aws.sqs.send_message(
        QueueUrl=aws.dlq_url, MessageBody=json.dumps({"paymentId": payment_id})
    )["MessageId"]

    # WHEN ops list it on 80 columns, in a pipe, and copy the payment id to replay it
    code, listing = _run(state, "dlq", "list")
    _, replay = _run(state, "dlq", "replay", "--payment-id", payment_id, "--dry-run")

    # THEN both ids are there whole, and the copied id finds the message
    assert code == 0
    assert payment_id in listing and message_id in listing
    assert "would have replayed 1" in replay


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("dlq", "list"),
        ("merchants", "list"),
        ("payments", "list", "--merchant", "merchant-a"),
        ("payments", "list", "--in-flight"),
    ],
)
def test_every_listing_speaks_json(api: ApiClient, state: Path, command: tuple[str, ...]) -> None:
    submit(api, 1250)

    code, output = _run(state, *command, "--json")

    assert code == 0, output
    json.loads(output)


def test_payments_get_shows_a_payment_as_ops_see_it_without_its_card(
    api: ApiClient, state: Path
) -> None:
    payment_id = submit(api, 1250)

    code, output = _run(state, "payments", "get", payment_id, "--json")

    document = json.loads(output)
    assert code == 0
    assert (document["paymentId"], document["status"]) == (payment_id, "Processing")
    assert document["cardNumber"] == "************1543" and document["cardHeld"] is True


@pytest.mark.parametrize(
    "command",
    [
        ("dlq", "list", "--limit", "0"),
        ("dlq", "replay", "--limit", "-1"),
        ("payments", "list", "--in-flight", "--limit", "0"),
        ("status", "--max-items", "0"),
        ("bank", "latency", "-5"),
        ("dlq", "list", "--older-than", "soon"),
    ],
)
def test_numeric_options_are_bounded(state: Path, command: tuple[str, ...]) -> None:
    code, _ = _run(state, *command)

    assert code == 2


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_shows_examples_in_its_help() -> None:
    commands = list(_commands(get_command(app)))

    assert len(commands) >= 15
    for command in commands:
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Examples:" in result.stdout, command


def test_hostile_stored_items_never_crash_a_listing(
    api: ApiClient, aws: AwsEnv, state: Path
) -> None:
    # GIVEN a payment with an impossible time, its job in the DLQ, and a merchant item
    # with no name, written straight into the tables
    payment_id = submit(api, 1250)
    aws.dynamodb.update_item(
        TableName=aws.settings.payments_table,
        Key={"paymentId": {"S": payment_id}},
        UpdateExpression="SET createdAt = :huge, lastError = :reason, lastErrorAt = :huge",
        ExpressionAttributeValues={":huge": {"N": "1" + "0" * 20}, ":reason": {"S": "x"}},
    )
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=json.dumps({"paymentId": payment_id}))
    aws.dynamodb.put_item(
        TableName=aws.settings.merchants_table,
        Item={
            "apiKeyDigest": {"S": "merchant#odd"},
            "kind": {"S": "merchant"},
            "merchantId": {"S": "odd"},
            "name": {"S": ":smile: [bold]x[/bold]"},
            "createdAt": {"N": "1" + "0" * 20},
        },
    )

    # WHEN ops look at them
    results = [
        _run(state, *command)
        for command in (
            ("payments", "get", payment_id),
            ("payments", "get", payment_id, "--json"),
            ("dlq", "list"),
            ("dlq", "list", "--json"),
            ("merchants", "list"),
        )
    ]

    # THEN every command answers, and stored text is shown as it is, never interpreted
    assert [code for code, _ in results] == [0] * len(results), results
    assert ":smile: [bold]x[/bold]" in results[-1][1]


@pytest.mark.parametrize(
    "body",
    ['{"paymentId": "[/red]"}', '{"paymentId": "\\ud800"}', "\x1b[31mred\x1b[0m [bold]x[/bold]"],
)
def test_the_dlq_commands_print_any_body_safely(aws: AwsEnv, state: Path, body: str) -> None:
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=body)

    code, listing = _run(state, "dlq", "list")
    json_code, as_json = _run(state, "dlq", "list", "--json")

    assert (code, json_code) == (0, 0), listing
    assert "\x1b" not in listing
    assert [letter["kind"] for letter in json.loads(as_json)] == ["poison"]
    assert queue_depth(aws.sqs, aws.dlq_url).visible == 1


def _job_in_dlq(api: ApiClient, aws: AwsEnv, amount: int) -> str:
    """A payment in flight whose job sits in the DLQ (and nowhere else); its id."""
    payment_id = submit(api, amount)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=json.dumps({"paymentId": payment_id}))
    return payment_id


# Commands this module cannot run to the end, and where their --json is run instead.
NOT_RUN_HERE: dict[tuple[str, ...], str] = {
    ("local",): "starts a whole stack and runs until stopped (tests/e2e start it)",
    ("listen",): "runs until its --count of webhooks arrive (no deliveries here)",
    ("merchants", "set-plan"): "AWS only: test_cli_against_a_stack runs it with --json",
    **{
        ("payments", operation): "as a merchant, with its key: test_cli_payment_operations "
        "runs it with --json"
        for operation in ("capture", "void", "refund")
    },
}


@pytest.mark.usefixtures("public_dns")
def test_every_command_takes_json_and_prints_one_document(
    api: ApiClient, aws: AwsEnv, state: Path
) -> None:
    # GIVEN a payment in flight with its job in the DLQ, and a poison letter beside it
    payment_id = _job_in_dlq(api, aws, 1250)
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody="garbage")
    documents: dict[tuple[str, ...], Any] = {}

    def run(command: tuple[str, ...], *args: str, codes: tuple[int, ...] = (0,)) -> Any:
        result = CliRunner().invoke(app, ["--state-file", str(state), *command, *args, "--json"])
        assert result.exit_code in codes, (command, result.output)
        # The API answers in this process here: its metric lines share our stdout.
        printed = "".join(
            line for line in result.stdout.splitlines(keepends=True) if '"_aws"' not in line
        )
        documents[command] = json.loads(printed)
        return documents[command]

    # WHEN a script runs every command with --json
    run(("status",))
    shop = run(("merchants", "create"), "Json Shop")["merchantId"]
    key_id = run(("merchants", "add-key"), shop)["keyId"]
    run(("merchants", "revoke"), shop, key_id)
    run(("merchants", "list"))
    run(("payments", "get"), payment_id)
    run(("payments", "list"), "--in-flight")
    letters = run(("dlq", "list"))
    run(("dlq", "show"), letters[0]["messageId"])
    run(("dlq", "replay"), "--payment-id", payment_id)
    run(("dlq", "delete"))
    run(("bank", "status"))
    run(("bank", "outage"), "off")
    run(("bank", "timeouts"), "on")
    run(("bank", "latency"), "0")
    endpoint = run(("webhooks", "add"), "https://shop.example.com/h", "--merchant-id", shop)["id"]
    run(("webhooks", "list"), "--merchant-id", shop)
    run(("webhooks", "rotate"), endpoint, "--merchant-id", shop)
    run(("webhooks", "replay"), "--payment-id", payment_id)
    run(("webhooks", "remove"), endpoint, "--merchant-id", shop)
    run(("events", "list"), "--payment-id", payment_id)
    # No worker runs here: the smoke's payments never settle, and it says so (exit 1).
    assert run(("smoke",), "--skip-dlq", "--settle", "1", codes=(0, 1))["checks"]

    # THEN each printed one JSON document, and every command of the CLI was run here or
    # is one whose --json is run elsewhere; each one's help offers --json
    commands = set(_commands(get_command(app)))
    assert commands == set(documents) | set(NOT_RUN_HERE)
    for command in commands:
        assert "--json" in CliRunner().invoke(app, [*command, "--help"]).stdout, command
    assert [letter["action"] for letter in documents[("dlq", "delete")]["letters"]] == ["deleted"]
    assert documents[("bank", "latency")] == {"outage": False, "timeouts": True, "latencyMs": 0}


@pytest.mark.parametrize(
    ("amount", "switch", "warning"),
    [(1250, "outage", "bank outage is on"), (TIMEOUT_AMOUNT, "timeouts", "bank timeouts are on")],
)
def test_a_replay_that_leaves_payments_in_flight_fails_and_names_the_bank_switch(
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    state: Path,
    amount: int,
    switch: str,
    warning: str,
) -> None:
    # GIVEN a payment's job in the DLQ, and the bank switch that failed it still on
    payment_id = _job_in_dlq(api, aws, amount)
    services.bank_controls.set_outage(switch == "outage")
    services.bank_controls.set_timeouts(switch == "timeouts")

    # WHEN ops replay it and wait for its outcome
    result = CliRunner().invoke(
        app, ["--state-file", str(state), "dlq", "replay", "--wait", "1", "--json"]
    )

    # THEN the command fails, names the payment still in flight and the switch to turn off
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["stillInFlight"] == [payment_id]
    assert document["outcomes"] == {payment_id: "Processing"}
    assert warning in result.stderr
    assert [warning in each for each in document["warnings"]] == [True]


def test_a_replay_with_every_switch_off_warns_of_nothing(
    api: ApiClient, aws: AwsEnv, services: Services, state: Path
) -> None:
    _job_in_dlq(api, aws, TIMEOUT_AMOUNT)
    services.bank_controls.set_timeouts(False)

    code, output = _run(state, "dlq", "replay", "--json")

    assert code == 0
    assert json.loads(output)["warnings"] == []


def _receives_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("receives"))


def test_a_dead_letter_shows_the_receive_count_sqs_gave_up_at_however_often_it_is_seen(
    api: ApiClient, aws: AwsEnv, services: Services, state: Path
) -> None:
    # GIVEN a payment the bank failed on until SQS moved its job to the DLQ
    services.bank_controls.set_outage(True)
    submit(api, 1250)
    worker = event_source(aws, services)
    for _ in range(MAX_RECEIVE_COUNT + 1):
        worker.poll_once()
    assert queue_depth(aws.sqs, aws.dlq_url).visible == 1

    # WHEN ops look at it again and again
    listed = [json.loads(_run(state, "dlq", "list", "--json")[1]) for _ in range(2)]
    message_id = listed[0][0]["messageId"]
    shown = [_run(state, "dlq", "show", message_id)[1] for _ in range(2)]

    # THEN every look shows the same letter, with the count SQS gave up at
    for letters in listed:
        for letter in letters:
            letter.pop("ageSeconds")
    assert listed[0] == listed[1]
    assert listed[0][0]["receivesWhenDeadLettered"] == MAX_RECEIVE_COUNT
    assert _receives_line(shown[0]) == _receives_line(shown[1])
    assert str(MAX_RECEIVE_COUNT) in _receives_line(shown[0])


@pytest.mark.parametrize(
    "command",
    [
        ("payments", "get", "no-such-payment"),
        ("dlq", "show", "no-such-message"),
        ("webhooks", "remove", "we_00000000000000000000"),
        ("merchants", "revoke", "nobody", "key_x"),
    ],
)
def test_a_refused_command_still_prints_one_json_document(
    state: Path, command: tuple[str, ...]
) -> None:
    # WHEN a script's command is refused
    result = CliRunner().invoke(app, ["--state-file", str(state), *command, "--json"])

    # THEN it exits non-zero and stdout still holds one document saying why
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["exitCode"] == 1 and document["error"]
