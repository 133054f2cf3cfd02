"""What each function weighs: its asset unzipped (from a real synth) and the worker's peak
memory while it handles a batch of 10 (in a fresh process, moto in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_WORKER_PEAK = (
    "import json\n"
    "from bench.worker_concurrency import measure_peak_memory\n"
    "print(json.dumps(measure_peak_memory()))\n"
)


def asset_sizes_mb() -> dict[str, float]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from infra.app import build_app
    from infra.packaging import unzipped_size_bytes

    with tempfile.TemporaryDirectory() as outdir:
        app, stack = build_app(outdir)
        app.synth()
        template = json.loads((Path(outdir) / f"{stack.stack_name}.template.json").read_text())
        sizes = {}
        # Function names are generated at deploy time: each is named by its construct.
        for function in stack.functions.all:
            logical_id = stack.get_logical_id(function.node.default_child)  # type: ignore[arg-type]
            key = template["Resources"][logical_id]["Properties"]["Code"]["S3Key"]
            asset = Path(outdir) / f"asset.{key.removesuffix('.zip')}"
            sizes[function.node.id] = round(unzipped_size_bytes(asset) / 1e6, 2)
    return sizes


def worker_peak_memory() -> dict[str, float]:
    result = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", _WORKER_PEAK], capture_output=True, text=True, check=True
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))
