"""The layers hold: the domain and the use cases import no AWS SDK, no HTTP framework, no
validation library and no adapter; the entry points (handlers, workers, the CLI) reach
adapters only through the composition root (core/bootstrap.py); infra imports no
runtime-only code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INNER_LAYERS = ("core/domain", "core/use_cases")
FORBIDDEN_INSIDE = (
    "boto3",
    "botocore",
    "pydantic",
    "handlers",
    "workers",
    "cli",
    "infra",
    "core.adapters",
    "core.bootstrap",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(
    "path",
    [p for layer in INNER_LAYERS for p in sorted((ROOT / layer).rglob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_domain_and_use_cases_import_nothing_from_the_outside(path: Path) -> None:
    leaks = sorted(
        name
        for name in _imports(path)
        if any(_within(name, forbidden) for forbidden in FORBIDDEN_INSIDE)
    )

    assert leaks == [], f"{path.relative_to(ROOT)} imports {leaks}"


ENTRY_POINTS = ("handlers", "workers", "cli")


@pytest.mark.parametrize(
    "path",
    [p for layer in ENTRY_POINTS for p in sorted((ROOT / layer).rglob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_entry_points_reach_adapters_only_through_the_composition_root(path: Path) -> None:
    # GIVEN a handler, a worker or a CLI module (the local stack's included)
    # WHEN its imports are read (those only for type checking too)
    adapters = sorted(name for name in _imports(path) if _within(name, "core.adapters"))

    # THEN none is an adapter: it gets them built from core.bootstrap's Services
    assert adapters == [], f"{path.relative_to(ROOT)} imports {adapters}"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "workers").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_workers_import_no_http_code(path: Path) -> None:
    # GIVEN a worker (it answers queues and streams, never HTTP)
    # THEN it imports nothing of the API's handlers: what it shares with them is in core
    http = sorted(name for name in _imports(path) if _within(name, "handlers"))

    assert http == [], f"{path.relative_to(ROOT)} imports {http}"


def test_the_walk_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import boto3.session\nfrom core.adapters import sqs_jobs\nfrom . import x\n")

    assert _imports(module) == {"boto3.session", "core.adapters"}
