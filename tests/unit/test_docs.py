"""The README a newcomer reads in minutes, and the docs pages it links: what must be on
the first screen, links that resolve, deploy commands that are valid shell naming the
stacks the CDK app makes, and the webhook receiver of docs/webhooks.md as pasted. (The
shell examples that run on the local stack are run by tests/e2e/test_readme_walkthrough.py.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.domain.webhook_signature import signature_header

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 250
FIRST_SCREEN_LINES = 60
# Pages whose shell blocks need AWS: checked as shell, run by nobody.
AWS_PAGES = ("deploy.md", "sizing.md", "benchmarks.md")
STACK_NAMES = {"paygate-account", "paygate-dev", "paygate-prod"}


def _blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(), re.DOTALL)


def test_the_readme_is_short_and_its_first_screen_says_what_how_and_where() -> None:
    lines = README.read_text().splitlines()
    first_screen = "\n".join(lines[:FIRST_SCREEN_LINES])

    assert len(lines) <= README_MAX_LINES
    for heading in ("## The two commands", "## How a payment flows", "## Layout"):
        assert heading in first_screen, heading
    assert "make run" in first_screen and "make test" in first_screen


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves() -> None:
    pages = sorted(DOCS.glob("*.md"))
    for page in [README, *pages]:
        for target in re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links {target}"
    linked = set(re.findall(r"\]\(docs/([^)#]+\.md)\)", README.read_text()))
    assert linked == {page.name for page in pages}


@pytest.mark.parametrize("name", AWS_PAGES)
def test_the_aws_pages_commands_are_valid_shell(name: str) -> None:
    for block in _blocks(DOCS / name, "sh"):
        subprocess.run(["bash", "-n", "-c", block], check=True, timeout=10)


def test_the_deploy_page_names_only_the_stacks_the_app_makes() -> None:
    commands = "\n".join(_blocks(DOCS / "deploy.md", "sh"))

    named = set(re.findall(r"\bpaygate-[a-z]+\b", commands))

    assert named == STACK_NAMES
    assert "stackName" not in (DOCS / "deploy.md").read_text()


def test_the_webhook_receiver_works_as_pasted(tmp_path: Path) -> None:
    # GIVEN the receiver of docs/webhooks.md, beside a copy of webhook_signature.py
    (receiver,) = _blocks(DOCS / "webhooks.md", "python")
    helper = ROOT / "core" / "domain" / "webhook_signature.py"
    (tmp_path / "webhook_signature.py").write_text(helper.read_text())
    secret = "whsec_" + "k" * 43
    body = json.dumps({"id": "evt_p_3", "type": "payment.accepted", "paymentId": "p"}).encode()
    header = signature_header([secret], int(time.time()), body)
    calls = [
        (body, {"Paygate-Signature": header}),  # a delivery
        (body, {"Paygate-Signature": header}),  # the same again (at least once)
        (body + b" ", {"Paygate-Signature": header}),  # altered
        (body, {}),  # unsigned
    ]
    driver = f"\nfor raw, headers in {calls!r}:\n    print(receive(raw, headers))\n"

    # WHEN deliveries reach it, with the whole secret (whsec_ included) as the registration
    # answered it
    result = subprocess.run(
        [sys.executable, "-c", receiver + driver],
        cwd=tmp_path,
        env=os.environ | {"PAYGATE_WEBHOOK_SECRET": secret, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    # THEN the delivery is handled once, a repeat answered 200, a forgery 400
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["payment.accepted p", "200", "200", "400", "400"]
