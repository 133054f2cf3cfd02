"""The paygate command as scripts and on-call use it: ids are never cut short at 80
columns or in a pipe, every listing has --json, numeric options are bounded, and each
command's --help shows examples."""

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
from tests.conftest import ApiClient, AwsEnv
from tests.integration.gateway_support import served_gateway, write_state_file
from tests.integration.worker_support import submit


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
