"""SnapStart hooks: before the snapshot the entry point builds what its first call would
(so it is off every cold start), after a restore each instance draws its own randomness;
where the runtime has no hooks (tests, the local stack) nothing is registered."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core import bootstrap
from core.snapstart import RUNTIME_HOOKS, register_snapshot_hooks


class FakeRuntimeHooks(types.ModuleType):
    def __init__(self) -> None:
        super().__init__(RUNTIME_HOOKS)
        self.before: list[Callable[[], object]] = []
        self.after: list[Callable[[], object]] = []

    def register_before_snapshot(self, hook: Callable[[], object]) -> None:
        self.before.append(hook)

    def register_after_restore(self, hook: Callable[[], object]) -> None:
        self.after.append(hook)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRuntimeHooks]:
    hooks = FakeRuntimeHooks()
    monkeypatch.setitem(sys.modules, RUNTIME_HOOKS, hooks)
    yield hooks


def test_without_the_runtimes_hooks_nothing_is_registered() -> None:
    assert RUNTIME_HOOKS not in sys.modules
    assert register_snapshot_hooks(lambda: None) is False


def test_an_entry_point_builds_its_component_before_the_snapshot(
    runtime: FakeRuntimeHooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []

    class Services:
        @property
        def payment_service(self) -> str:
            built.append("payment_service")
            return "built"

    monkeypatch.setattr(bootstrap, "services", Services)

    def handle(event: Any, context: Any, services: Any) -> str:
        return str(services.payment_service)

    lambda_handler = bootstrap.with_process_services(handle, primes="payment_service")
    assert built == []  # importing the handler builds nothing
    (before,) = runtime.before
    before()
    assert built == ["payment_service"]
    assert lambda_handler({}, None) == "built"


def test_instances_restored_from_one_snapshot_draw_different_random_numbers(
    runtime: FakeRuntimeHooks,
) -> None:
    register_snapshot_hooks(lambda: None)
    (after,) = runtime.after
    random.seed(7)
    snapshot = random.getstate()
    draws = []
    for _ in range(2):  # two instances restored from the same memory
        random.setstate(snapshot)
        after()
        draws.append(random.random())
    assert draws[0] != draws[1]
