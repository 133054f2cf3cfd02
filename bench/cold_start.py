"""Cold start of each Lambda entry point against its floor, in fresh interpreters.

Entry point: import the module, build the composition root and the boto3 clients it uses
(what its first invocation builds). Floor: import boto3 and create exactly those clients.
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

RUNS = 15


@dataclass(frozen=True)
class EntryPoint:
    name: str
    module: str
    clients: tuple[str, ...]
    builds: str


ENTRY_POINTS = (
    EntryPoint("create-payment", "handlers.create_payment", ("dynamodb",), "payment_service"),
    EntryPoint(
        "make-payment", "handlers.make_payment", ("dynamodb", "kms", "sqs"), "payment_service"
    ),
    EntryPoint("get-payment", "handlers.get_payment", ("dynamodb",), "payment_service"),
    EntryPoint("list-payments", "handlers.list_payments", ("dynamodb",), "payment_service"),
    EntryPoint("authorizer", "handlers.authorizer", ("dynamodb",), "merchants"),
    EntryPoint("worker", "workers.payment_worker", ("dynamodb", "kms", "sqs"), "processor"),
    EntryPoint("reconciler", "workers.reconciler", ("dynamodb", "sqs"), "reconciler"),
)

_ENV = {
    "PAYGATE_PAYMENTS_TABLE": "payments",
    "PAYGATE_MERCHANTS_TABLE": "merchants",
    "PAYGATE_BANK_LEDGER_TABLE": "ledger",
    "PAYGATE_BANK_CONTROL_TABLE": "control",
    "PAYGATE_IDEMPOTENCY_TABLE": "idempotency",
    "PAYGATE_JOBS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
    "PAYGATE_CARD_KEY_ID": "alias/card",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}
_TIMED = "import time\n_t = time.perf_counter()\n{body}\nprint(time.perf_counter() - _t)\n"


def _entry_code(entry: EntryPoint) -> str:
    clients = "".join(f"deps.clients.{client}\n" for client in entry.clients)
    return (
        f"import {entry.module}\n"
        "from core.bootstrap import services\n"
        "deps = services()\n"
        f"deps.{entry.builds}\n{clients}"
    )


def _floor_code(entry: EntryPoint) -> str:
    clients = "".join(f"session.client({client!r})\n" for client in entry.clients)
    return f"import boto3\nsession = boto3.session.Session()\n{clients}"


def _compile_our_code() -> None:
    root = Path(__file__).resolve().parents[1]
    for package in ("core", "handlers", "workers"):
        compileall.compile_dir(root / package, quiet=1)


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return environment | _ENV


def _time(body: str) -> float:
    result = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", _TIMED.format(body=body)],
        capture_output=True,
        text=True,
        env=_environment(),
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def measure(
    runs: int = RUNS, progress: Callable[[str], None] = print
) -> dict[str, dict[str, float]]:
    _compile_our_code()
    results = {}
    for entry in ENTRY_POINTS:
        entry_times, floor_times = [], []
        for _ in range(runs):
            floor_times.append(_time(_floor_code(entry)))
            entry_times.append(_time(_entry_code(entry)))
        entry_ms = statistics.median(entry_times) * 1000
        floor_ms = statistics.median(floor_times) * 1000
        results[entry.name] = {
            "entry_ms": round(entry_ms, 1),
            "floor_ms": round(floor_ms, 1),
            "ratio": round(entry_ms / floor_ms, 2),
        }
        progress(f"  cold start {entry.name}: {entry_ms:.0f} ms vs floor {floor_ms:.0f} ms")
    return results
