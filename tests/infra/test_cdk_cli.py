from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def offline_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CI": "true"}


def documented_deploy(stage: str) -> list[str]:
    """The arguments of the documented `npx cdk deploy` of a stage, continuation lines
    joined."""
    for document in DOCUMENTS:
        text = document.read_text().replace("\\\n", " ")
        for line in text.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("npx cdk deploy") and f"paygate-{stage}" in command:
                return shlex.split(command)[3:]
    raise AssertionError(f"no document shows how to deploy paygate-{stage}")


def test_npx_cdk_synth_works_offline_without_credentials(tmp_path: Path) -> None:
    # GIVEN no AWS credentials at all
    env = offline_environment()

    # WHEN the pinned CDK CLI synthesizes the app, as the README says
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # THEN it writes the stack's template
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "paygate-dev.template.json").read_text())
    assert "AWS::Lambda::Function" in {r["Type"] for r in template["Resources"].values()}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cdk_ls_lists_exactly_the_stacks_the_deploy_docs_name(stage: str) -> None:
    # GIVEN the documented deploy command of a stage: the stacks it names, and its context
    arguments = documented_deploy(stage)
    named = [argument for argument in arguments if re.fullmatch(r"paygate-[a-z]+", argument)]
    context = [argument for argument in arguments if argument not in named]
    assert named == ["paygate-account", f"paygate-{stage}"]

    # WHEN the CDK CLI lists the app's stacks through cdk.json, with that context
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "ls", *context],
        cwd=ROOT,
        env=offline_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # THEN it lists exactly those stacks, so `cdk deploy` finds them (and dev is not prod)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(result.stdout.split()) == sorted(named)
