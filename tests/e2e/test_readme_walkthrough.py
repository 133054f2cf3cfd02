"""The README's walk-through, run verbatim against a running local stack."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from tests.e2e.conftest import RunningStack

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough_script() -> str:
    text = README.read_text()
    section = text[text.index("### A walk-through") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the README lost its walk-through"
    return match.group(1)


def test_the_readme_walkthrough_works_as_printed(stack: RunningStack, tmp_path: Path) -> None:
    # GIVEN a folder where .paygate/local.json describes the running stack, as after make run
    (tmp_path / ".paygate").mkdir()
    shutil.copy(stack.state_file, tmp_path / ".paygate" / "local.json")

    # WHEN the walk-through runs as printed
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough_script()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # THEN the payment was accepted and its card is masked
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    submitted, fetched = json.loads(lines[1]), json.loads(lines[-1])
    assert submitted["status"] == "Processing"
    assert fetched["status"] == "Accepted"
    assert fetched["cardNumber"] == "************4242"
