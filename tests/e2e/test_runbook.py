"""docs/runbook.md, run verbatim against the running local stack: every command block
(the rehearsal included) in one shell, as on-call would type them; the blocks marked
"on AWS only" are checked to be valid shell that names a deployed stack."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.e2e.conftest import RunningStack

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
AWS_ONLY = "# on AWS only"


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), re.DOTALL)


def test_the_aws_only_steps_are_valid_shell_for_a_deployed_stack() -> None:
    aws_blocks = [block for block in _blocks() if block.startswith(AWS_ONLY)]

    assert aws_blocks
    for block in aws_blocks:
        subprocess.run(["bash", "-n", "-c", block], check=True, timeout=10)
        assert "--stack" in block or block.count("aws ") >= 1


def test_every_runbook_step_works_verbatim_on_the_local_stack(
    stack: RunningStack, tmp_path: Path
) -> None:
    # GIVEN a checkout-like folder: the virtualenv, and .paygate/local.json of the stack
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / ".paygate").mkdir()
    shutil.copy(stack.state_file, tmp_path / ".paygate" / "local.json")
    script = "\n".join(block for block in _blocks() if not block.startswith(AWS_ONLY))

    # WHEN every step runs in order, in one shell
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
        | {"NO_COLOR": "1", "COLUMNS": "80"},
    )

    # THEN each worked, and the rehearsal's payment was replayed to Accepted
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"outcome  [0-9a-f-]{36}  Accepted", result.stdout), result.stdout[-3000:]
