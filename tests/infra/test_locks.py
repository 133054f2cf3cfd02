"""The locked supply chain: every dependency pinned with hashes, within pyproject's
ranges; the venv and the Lambda asset installed from the locks and nothing else."""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.locks import (
    DEV,
    LAMBDA,
    LOCKS,
    RUN,
    RUNTIME_PROVIDED,
    Lock,
    build_requirements,
    runtime_requirements,
)
from tests.infra.conftest import Synthesized


def _entries(lock: Lock) -> list[str]:
    """Each requirement of the lock, its continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", lock.path.read_text())
    return [line for line in text.splitlines() if line and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_every_locked_package_is_pinned_exactly_with_hashes(lock: Lock) -> None:
    entries = _entries(lock)
    assert len(entries) == len(lock.entries()) >= 8
    for entry in entries:
        assert re.match(r"^[A-Za-z0-9_.\-]+==\S+", entry), entry
        assert "--hash=sha256:" in entry, entry


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_each_lock_satisfies_every_range_it_was_written_from(lock: Lock) -> None:
    """A range changed in pyproject.toml without `make lock` is caught here."""
    pins = {canonicalize_name(name): version for name, version in lock.pins().items()}
    for line in lock.requirements:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock.name}.lock lacks {requirement.name}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock.name}.lock pins {name}=={pins[name]}, outside {requirement.specifier}"
        )


def test_the_locks_agree_and_lambda_ships_what_the_tests_ran() -> None:
    dev = DEV.pins()
    for lock in (RUN, LAMBDA):
        assert {name: dev.get(name) for name in lock.pins()} == lock.pins()
    assert RUNTIME_PROVIDED not in LAMBDA.pins()
    assert {"setuptools", "wheel"} <= set(DEV.pins()) & set(RUN.pins())
    assert len(build_requirements()) == 2
    assert len(runtime_requirements()) == 5


def test_this_venv_was_installed_from_the_dev_lock() -> None:
    for name, version in DEV.pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a marker left it out on this Python or platform
        assert installed == version, f"{name} {installed} installed, {version} locked"


def test_the_lambda_asset_holds_exactly_the_lambda_lock(synth: Synthesized) -> None:
    (asset,) = [path for path in synth.outdir.iterdir() if path.name.startswith("asset.")]
    shipped = {}
    for info in asset.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        shipped[canonicalize_name(name)] = version
    assert shipped == {canonicalize_name(n): v for n, v in LAMBDA.pins().items()}
