"""Every shell block of the README, and of the docs pages a newcomer pastes from next
(docs/api.md, docs/webhooks.md), run in order as printed against a fresh local stack started
as `make run` starts it: an example that fails when pasted fails the build."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningStack, running_stack, start_stack

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
API_PAGE = ROOT / "docs" / "api.md"
WEBHOOKS_PAGE = ROOT / "docs" / "webhooks.md"
# The README's first block: the two commands. `make run` is what the fixture below starts,
# `make test` what runs this test; each is checked to be a target make knows.
THE_TWO_COMMANDS = ("make run", "make test")


def shell_blocks(page: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", page.read_text(), re.DOTALL)


@pytest.fixture(scope="module")
def fresh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of this module's own, started empty with `make run`'s settings (none of the
    quick bank time-outs the shared test stack runs with)."""
    fresh = functools.partial(start_stack, clean_env=True)
    with running_stack(tmp_path_factory.mktemp("fresh-stack"), fresh) as running:
        yield running


def paste(page: Path, blocks: list[str], stack: RunningStack, folder: Path) -> str:
    """The blocks pasted in order into one shell in a checkout-like folder (the virtualenv
    and .paygate/local.json, as after `make run`); its output, after checking it ran."""
    if not (folder / ".venv").exists():
        (folder / ".venv").symlink_to(ROOT / ".venv")
        (folder / ".paygate").mkdir()
        shutil.copy(stack.state_file, folder / ".paygate" / "local.json")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(blocks)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
        | {"NO_COLOR": "1", "COLUMNS": "120"},
    )
    assert result.returncode == 0, f"{page.name}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_the_readmes_first_block_is_the_two_commands_and_make_knows_both() -> None:
    first = shell_blocks(README)[0]
    commands = [line.split("#")[0].strip() for line in first.splitlines()]

    assert commands == list(THE_TWO_COMMANDS)
    for command in commands:
        subprocess.run([*command.split(), "-n"], cwd=ROOT, capture_output=True, check=True)


def test_every_readme_block_works_pasted_in_order(
    fresh_stack: RunningStack, tmp_path: Path
) -> None:
    # GIVEN the README's shell blocks after the two commands, as printed
    blocks = shell_blocks(README)[1:]

    # WHEN they are pasted in order into one shell, with the stack running
    output = paste(README, blocks, fresh_stack, tmp_path)

    # THEN the walk-through's payment was submitted and accepted, its card masked
    answers = json_lines(output)
    assert answers[0]["status"] == "Processing"
    final = answers[1]
    assert (final["status"], final["cardNumber"]) == ("Accepted", "************4242")
    # AND ops saw it, with its events
    assert "payment.accepted" in output
    assert "failCode" not in output


def test_every_api_page_example_works_pasted_in_order(
    fresh_stack: RunningStack, tmp_path: Path
) -> None:
    output = paste(API_PAGE, shell_blocks(API_PAGE), fresh_stack, tmp_path)

    # THEN no example answered an error, and each answered what the page says
    assert "failCode" not in output
    lines = json_lines(output)
    created, submitted, fetched, first_page, next_page, held, capture, refund = lines
    assert created["status"] == "Created"
    assert submitted["status"] == "Processing"
    assert fetched["cardNumber"] == "************4242"
    assert len(first_page["payments"]) == 2
    assert next_page["payments"]
    # AND a manual capture is held, captured in part, and refunded in part
    assert held["status"] == "Processing"
    assert (capture["status"], capture["settling"]) == ("Authorized", "capture")
    assert (refund["amount"], refund["status"]) == (400, "Pending")
    # AND the idempotent create answered twice, the second time a replay
    assert output.count("HTTP/1.1 201") == 2
    assert output.lower().count("idempotent-replayed: true") == 1


def test_every_webhooks_page_example_works_pasted_in_order(
    fresh_stack: RunningStack, tmp_path: Path
) -> None:
    output = paste(WEBHOOKS_PAGE, shell_blocks(WEBHOOKS_PAGE), fresh_stack, tmp_path)

    # THEN the endpoint was registered, listed, rotated, told of the payment, and removed
    assert "failCode" not in output
    registered, listed, rotated, submitted, events, removed = json_lines(output)
    assert str(registered["secret"]).startswith("whsec_")
    assert [e["id"] for e in listed["endpoints"]] == [registered["id"]]
    assert rotated["secret"] != registered["secret"]
    assert submitted["status"] == "Processing"
    types = [event["type"] for event in events["events"]]
    assert "payment.accepted" in types
    assert removed["id"] == registered["id"]
    assert fresh_stack.request("GET", "/webhook-endpoints?merchantId=dev-merchant").body == {
        "endpoints": []
    }


def test_the_docs_pages_webhook_examples_work_as_they_are(fresh_stack: RunningStack) -> None:
    def document() -> dict[str, Any]:
        return dict(fresh_stack.request("GET", "/openapi.json").body)

    # GIVEN the docs page's register example, as it is
    endpoints = document()["paths"]["/webhook-endpoints"]
    example = endpoints["post"]["requestBody"]["content"]["application/json"]["example"]

    # WHEN it is sent, and the page reloaded
    registered = fresh_stack.request("POST", "/webhook-endpoints", example)
    reloaded = document()["paths"]["/webhook-endpoints"]["delete"]["parameters"]
    query = "&".join(f"{p['name']}={p['example']}" for p in reloaded)

    # THEN the endpoint was registered, and the remove example removes it
    assert registered.status == 201, registered.body
    removed = fresh_stack.request("DELETE", f"/webhook-endpoints?{query}")
    assert (removed.status, removed.body["id"]) == (200, registered.body["id"])
