"""The lock files: every Python dependency pinned with its hashes (`make lock` rewrites
them with uv from pyproject.toml's ranges; everything installs from them, nothing from
the ranges).

- requirements/run.lock: what `make run` installs (the CLI and the local stack);
- requirements/dev.lock: everything (tests, linters, CDK), what `make test` installs;
- requirements/lambda.lock: the functions' dependencies for the Lambda runtime (CPython
  3.14 on arm64), without boto3, which the runtime provides (infra/packaging.py).

Both venv locks also pin the build backend, so the editable install of paygate itself
is built from the lock too (pip's --no-build-isolation).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[1]
LOCK_DIR = ROOT / "requirements"
PROJECT = "paygate"
# The oldest Python the project supports: the venv locks hold for it and every later one.
VENV_PYTHON = "3.11"
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
# The runtime provides it (the asset leaves it out).
RUNTIME_PROVIDED = "boto3"


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].strip().lower()


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _project() -> dict[str, object]:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    return project


def _extra(name: str) -> list[str]:
    """An extra's requirements, with paygate's own extras it names expanded."""
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)
    requirements: list[str] = []
    for requirement in extras[name]:
        if requirement_name(requirement) == PROJECT:
            named = re.search(r"\[(.*)\]", requirement)
            for each in named.group(1).split(",") if named else []:
                requirements += _extra(each.strip())
        else:
            requirements.append(requirement)
    return requirements


def runtime_requirements() -> list[str]:
    dependencies = _project()["dependencies"]
    assert isinstance(dependencies, list)
    return [str(r) for r in dependencies]


def build_requirements() -> list[str]:
    system = _pyproject()["build-system"]
    assert isinstance(system, dict)
    return [str(r) for r in system["requires"]]


@dataclass(frozen=True)
class Lock:
    name: str
    requirements: tuple[str, ...]
    # uv pip compile's target: a universal lock for the venvs, one platform for Lambda.
    target: tuple[str, ...]
    # A lock whose versions this one keeps (what `make run` installs is what tests test).
    within: Lock | None = None

    @property
    def path(self) -> Path:
        return LOCK_DIR / f"{self.name}.lock"

    def entries(self) -> list[tuple[str, str, str]]:
        """(package, version, marker) of each pin: a package may be pinned once per
        marker (e.g. one version below Python 3.12, another from it)."""
        text = re.sub(r"\\\n\s*", " ", self.path.read_text())
        entries = []
        for line in text.splitlines():
            if not line or line[0] in "# ":
                continue
            pin, _, marker = line.split(" --hash")[0].partition(";")
            name, _, version = pin.strip().partition("==")
            entries.append((name.lower().replace("_", "-"), version, marker.strip()))
        return entries

    def pins(self) -> dict[str, str]:
        """Package -> the version pinned for this interpreter and platform."""
        return {
            name: version
            for name, version, marker in self.entries()
            if not marker or Marker(marker).evaluate()
        }


_UNIVERSAL = ("--universal", "--python-version", VENV_PYTHON)
DEV = Lock(
    "dev",
    (*runtime_requirements(), *_extra("dev"), *build_requirements()),
    _UNIVERSAL,
)
RUN = Lock(
    "run",
    (*runtime_requirements(), *_extra("cli"), *build_requirements()),
    _UNIVERSAL,
    within=DEV,
)
LAMBDA = Lock(
    "lambda",
    tuple(r for r in runtime_requirements() if requirement_name(r) != RUNTIME_PROVIDED),
    (
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--python-platform",
        "aarch64-manylinux2014",
        "--only-binary",
        ":all:",
    ),
    within=DEV,
)
LOCKS = (DEV, RUN, LAMBDA)


def write(lock: Lock) -> None:
    LOCK_DIR.mkdir(exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "uv",
        "pip",
        "compile",
        "-",
        "--quiet",
        "--generate-hashes",
        "--no-header",
        "--output-file",
        str(lock.path),
        *lock.target,
        *(("--constraint", str(lock.within.path)) if lock.within else ()),
    ]
    source = "\n".join(lock.requirements) + "\n"
    subprocess.run(command, input=source, text=True, check=True)  # noqa: S603
    header = (
        f"# {lock.name}.lock: written by `make lock` (infra/locks.py) from pyproject.toml.\n"
        f"# Do not edit; change the ranges in pyproject.toml and run `make lock`.\n"
    )
    lock.path.write_text(header + lock.path.read_text())


def main() -> None:
    for lock in LOCKS:
        write(lock)
        print(f"{lock.path.relative_to(ROOT)}: {len(lock.pins())} packages")


if __name__ == "__main__":
    main()
