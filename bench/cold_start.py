"""Cold start of each Lambda entry point against its floor, in fresh interpreters.

Entry point: import the module and build the component of the composition root its handler
calls, with the boto3 clients that creates (what its first invocation builds). Floor: import
boto3 and create exactly those clients (found by building the component once). The API's
entry points come from the route registry (handlers/routes.py).
Runs alternate between the two so drift on a shared machine hits both alike. Our modules
are byte-compiled first, as boto3's are by pip, so both sides import cached bytecode.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.resources import RESOURCE_ENV_VARS, EnvVar
from handlers.routes import ROUTES
from infra.functions import AUTHORIZER, RECONCILER, WORKER, FunctionSpec

RUNS = 15


@dataclass(frozen=True)
class EntryPoint:
    name: str
    module: str
    builds: str
    # Whether a prod stage starts it from a SnapStart snapshot (infra/functions.py): then
    # what is measured here runs when a version is published, not on a cold start.
    snap_start: bool


ENTRY_POINTS = (
    *(
        EntryPoint(
            route.name, route.module, route.use_case, FunctionSpec.of_route(route).snap_start
        )
        for route in ROUTES
    ),
    EntryPoint("authorizer", "handlers.authorizer", "merchants", AUTHORIZER.snap_start),
    EntryPoint("worker", "workers.payment_worker", "processor", WORKER.snap_start),
    EntryPoint("reconciler", "workers.reconciler", "reconciler", RECONCILER.snap_start),
)
_CLIENTS_BUILT = "print(','.join(deps.clients.built()))"

# Every setting naming a resource gets a stand-in (nothing is called); the rest default.
_ENV = {
    str(name): f"bench-{name.lower()}"
    for name in RESOURCE_ENV_VARS - {EnvVar.AWS_ENDPOINT_URL, EnvVar.AWS_REGION}
} | {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}
_TIMED = "import time\n_t = time.perf_counter()\n{body}\nprint(time.perf_counter() - _t)\n"


def _entry_code(entry: EntryPoint) -> str:
    return (
        f"import {entry.module}\n"
        "from core.bootstrap import services\n"
        "deps = services()\n"
        f"deps.{entry.builds}\n"
    )


def _clients_of(entry: EntryPoint) -> list[str]:
    """The boto3 clients building the entry point's component creates."""
    printed = _run(_entry_code(entry) + _CLIENTS_BUILT).strip().splitlines()[-1]
    return printed.split(",") if printed else []


def _floor_code(clients: list[str]) -> str:
    created = "".join(f"session.client({client!r})\n" for client in clients)
    return f"import boto3\nsession = boto3.session.Session()\n{created}"


def _compile_our_code() -> None:
    root = Path(__file__).resolve().parents[1]
    for package in ("core", "handlers", "workers"):
        compileall.compile_dir(root / package, quiet=1)


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return environment | _ENV


def _run(code: str) -> str:
    result = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_environment(),
        check=True,
    )
    return result.stdout


def _time(body: str) -> float:
    return float(_run(_TIMED.format(body=body)).strip().splitlines()[-1])


def measure(
    runs: int = RUNS, progress: Callable[[str], None] = print
) -> dict[str, dict[str, float]]:
    _compile_our_code()
    results = {}
    for entry in ENTRY_POINTS:
        floor = _floor_code(_clients_of(entry))
        entry_times, floor_times = [], []
        for _ in range(runs):
            floor_times.append(_time(floor))
            entry_times.append(_time(_entry_code(entry)))
        entry_ms = statistics.median(entry_times) * 1000
        floor_ms = statistics.median(floor_times) * 1000
        results[entry.name] = {
            "entry_ms": round(entry_ms, 1),
            "floor_ms": round(floor_ms, 1),
            "ratio": round(entry_ms / floor_ms, 2),
            "snap_start_in_prod": entry.snap_start,
        }
        progress(f"  cold start {entry.name}: {entry_ms:.0f} ms vs floor {floor_ms:.0f} ms")
    return results
