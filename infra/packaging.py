"""Builds the Lambda code asset without Docker: the runtime dependencies installed by pip
as arm64 (manylinux2014_aarch64) wheels for the runtime's Python, plus `core/`,
`handlers/` and `workers/`. Nothing else: no tests, no CLI, no caches.

boto3 is left out on purpose: the Lambda Python runtime provides it, and it is most of an
asset's size. The dependency install is cached by the hash of what it installs.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / "build" / "lambda"
LAMBDA_PYTHON_VERSION = "3.14"
PLATFORM = "manylinux2014_aarch64"
# The runtime provides it (the asset leaves it out).
RUNTIME_PROVIDED = "boto3"
CODE_PACKAGES = ("core", "handlers", "workers")


class PackagingError(Exception):
    pass


def runtime_requirements() -> tuple[str, ...]:
    """What the functions import beyond boto3: pyproject's runtime dependencies, as bounded
    there (written once)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [str(r) for r in project["dependencies"]]
    return tuple(r for r in requirements if re.split(r"[<>=!~\[ ;]", r)[0] != RUNTIME_PROVIDED)


RUNTIME_REQUIREMENTS = runtime_requirements()


def _dependencies_dir() -> Path:
    key = "\n".join((PLATFORM, LAMBDA_PYTHON_VERSION, *RUNTIME_REQUIREMENTS))
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return BUILD_DIR / f"deps-{digest}"


def build_dependencies() -> Path:
    target = _dependencies_dir()
    if (target / ".complete").exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--platform",
        PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        *RUNTIME_REQUIREMENTS,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackagingError(f"pip could not install the Lambda dependencies:\n{result.stderr}")
    (target / ".complete").write_text("\n".join(RUNTIME_REQUIREMENTS))
    return target


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name == "__pycache__" or name.endswith((".pyc", ".pyo"))}


def build_code_asset() -> Path:
    """The folder every function's code is deployed from."""
    dependencies = build_dependencies()
    asset = BUILD_DIR / "asset"
    if asset.exists():
        shutil.rmtree(asset)
    shutil.copytree(dependencies, asset, ignore=shutil.ignore_patterns(".complete", "__pycache__"))
    for package in CODE_PACKAGES:
        shutil.copytree(ROOT / package, asset / package, ignore=_ignore)
    return asset


def unzipped_size_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
