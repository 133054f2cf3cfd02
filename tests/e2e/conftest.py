"""End-to-end: `paygate local` started as a subprocess on free ports, driven over HTTP
and through the `paygate` CLI, then stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli.local_process import RunningStack, port_is_free, start_stack, stop_stack
from tests.support import card_data_leaks

__all__ = ["RunningStack", "port_is_free", "start_stack", "stop_stack"]

# Quick bank time-outs so a 504 job reaches the DLQ in seconds; the reconciler is kept out
# of the way so the DLQ flow is the one under test.
STACK_ENV = {
    "PAYGATE_BANK_TIMEOUT_SECONDS": "0.1",
    "PAYGATE_BANK_RETRY_INITIAL_SECONDS": "0.01",
    "PAYGATE_BANK_RETRY_MAX_SECONDS": "0.05",
    "PAYGATE_RECHECK_BASE_SECONDS": "1",
    "PAYGATE_RECONCILE_AFTER_SECONDS": "3600",
    "PAYGATE_RESOLVE_AFTER_SECONDS": "7200",
}


def start_test_stack(tmp: Path) -> RunningStack:
    return start_stack(tmp, STACK_ENV)


@contextmanager
def running_stack(directory: Path, start: Callable[[Path], RunningStack]) -> Iterator[RunningStack]:
    """A stack started in `directory`, stopped after; then everything the API, the workers
    and the reconciler logged is searched for card data."""
    running = start(directory)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            stop_stack(running)
    assert card_data_leaks((directory / "stack.log").read_text()) == []


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(tmp_path_factory.mktemp("stack"), start_test_stack) as running:
        yield running


@pytest.fixture
def bank_restored(stack: RunningStack) -> Iterator[RunningStack]:
    """The shared stack, its bank switches put back to their defaults after the test, even
    when it fails half-way (the tests after it share the stack)."""
    try:
        yield stack
    finally:
        stack.cli("bank", "outage", "off")
        stack.cli("bank", "timeouts", "on")
        stack.cli("bank", "latency", "0")
