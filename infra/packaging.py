"""Builds the Lambda code asset without Docker: the runtime dependencies of
requirements/lambda.lock (pinned, hash-checked) installed by pip as arm64
(manylinux2014_aarch64) wheels for the runtime's Python, plus `core/`, `handlers/` and
`workers/`. Nothing else: no tests, no CLI, no caches.

boto3 is left out on purpose: the Lambda Python runtime provides it, and it is most of an
asset's size. The dependency install is cached by the hash of the lock.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from infra.locks import LAMBDA, LAMBDA_PLATFORM, LAMBDA_PYTHON_VERSION, ROOT

BUILD_DIR = ROOT / "build" / "lambda"
CODE_PACKAGES = ("core", "handlers", "workers")


class PackagingError(Exception):
    pass


def _dependencies_dir() -> Path:
    digest = hashlib.sha256(LAMBDA.path.read_bytes()).hexdigest()[:12]
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
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-deps",
        "--require-hashes",
        "--requirement",
        str(LAMBDA.path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackagingError(f"pip could not install the Lambda dependencies:\n{result.stderr}")
    (target / ".complete").write_text(LAMBDA.path.name)
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
