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
from core.bootstrap import Services
from tests.conftest import ApiClient, AwsEnv
from tests.integration.gateway_support import served_gateway, write_state_file
from tests.integration.worker_support import submit


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
