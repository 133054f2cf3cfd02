from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_npx_cdk_synth_works_offline_without_credentials(tmp_path: Path) -> None:
    # GIVEN no AWS credentials at all
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CI": "true"}

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
    template = json.loads((tmp_path / "paygate.template.json").read_text())
    assert "AWS::Lambda::Function" in {r["Type"] for r in template["Resources"].values()}
