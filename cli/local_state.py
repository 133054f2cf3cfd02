"""Where the local stack tells the CLI and scripts about itself: `.paygate/local.json` (its
URL, API key, ports, process ids and settings) in the project folder, found from any
subfolder; whether the stack it describes is still alive; and the development merchant's
API key, kept across restarts in `.paygate/dev-merchant.json`."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_DIR = ".paygate"
STATE_NAME = "local.json"
DEV_MERCHANT_NAME = "dev-merchant.json"
# Touched whenever a merchant key is revoked on the local stack: the local gateway drops
# its cached authorizer answers at once (on AWS the cache runs out within its TTL).
KEYS_CHANGED_NAME = "keys-changed"
STATE_FILE_ENV = "PAYGATE_STATE_FILE"
HEALTH_PATH = "/health"
DEV_MERCHANT_ID = "dev-merchant"
# The emulator accepts any credentials; boto3 just needs some.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
_PROBE_SECONDS = 2.0


def default_state_file(start: Path | None = None) -> Path:
    """`$PAYGATE_STATE_FILE`, else `.paygate/local.json` in the nearest folder (this one or
    above) that has a `.paygate/` folder, else in the nearest project folder (one with a
    pyproject.toml), else here."""
    if os.environ.get(STATE_FILE_ENV):
        return Path(os.environ[STATE_FILE_ENV])
    here = (start or Path.cwd()).resolve()
    folders = (here, *here.parents)
    for marker in (STATE_DIR, "pyproject.toml"):
        for folder in folders:
            if (folder / marker).exists():
                return folder / STATE_DIR / STATE_NAME
    return here / STATE_DIR / STATE_NAME


class StateFileError(Exception):
    """No running local stack behind a state file; says why in one line."""


_LOOPBACK_URL = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$")
_MAX_PID = 2**22


@dataclass(frozen=True)
class LocalState:
    """A state file that `paygate local` wrote: its process, its loopback URLs, and the
    settings of its emulator (never a real AWS endpoint)."""

    path: Path
    pid: int
    url: str
    dlq_url: str
    environment: dict[str, str]
    document: dict[str, Any]

    def is_alive(self) -> bool:
        """The process that wrote it runs, and its API answers."""
        try:
            os.kill(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        try:
            with urllib.request.urlopen(  # noqa: S310 (our own loopback URL)
                self.url + HEALTH_PATH, timeout=_PROBE_SECONDS
            ) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False


def read_state(path: Path) -> LocalState:
    """The state file's contents; StateFileError if there is none, or if it is not one that
    `paygate local` wrote (whatever else it holds, nothing in it is used)."""
    if not path.exists():
        raise StateFileError(
            f"no local stack is running ({path} not found): start one with `make run`, "
            "or name a deployed stack with --stack"
        )
    try:
        document = json.loads(path.read_text())
        state = _state_of(path, document)
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        raise StateFileError(f"{path} is not a state file of paygate's local stack") from None
    return state


def _state_of(path: Path, document: Any) -> LocalState:
    pid, url, dlq_url = document["pid"], document["url"], document["deadLetterQueueUrl"]
    environment = document["environment"]
    endpoint = environment["PAYGATE_AWS_ENDPOINT_URL"]
    valid = (
        type(pid) is int
        and 0 < pid < _MAX_PID
        and isinstance(url, str)
        and _LOOPBACK_URL.match(url)
        and isinstance(dlq_url, str)
        and isinstance(environment, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items())
        and isinstance(endpoint, str)
        and _LOOPBACK_URL.match(endpoint)
    )
    if not valid:
        raise ValueError("not a local stack's state")
    return LocalState(path, pid, url, dlq_url, environment, document)


def running_state(path: Path) -> LocalState:
    """The state of a local stack that is alive; StateFileError (one line) otherwise."""
    state = read_state(path)
    if not state.is_alive():
        raise StateFileError(
            f"no local stack is running: {path} was left by a stack that is gone "
            f"(pid {state.pid}); start one with `make run`"
        )
    return state


def keys_changed_marker(state_file: Path) -> Path:
    return state_file.parent / KEYS_CHANGED_NAME


def note_keys_changed(state_file: Path) -> None:
    marker = keys_changed_marker(state_file)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


@dataclass(frozen=True)
class DevMerchant:
    merchant_id: str
    api_key: str


def saved_dev_merchant(state_file: Path) -> DevMerchant | None:
    try:
        document = json.loads((state_file.parent / DEV_MERCHANT_NAME).read_text())
        return DevMerchant(str(document["merchantId"]), str(document["apiKey"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_dev_merchant(state_file: Path, merchant: DevMerchant) -> None:
    path = state_file.parent / DEV_MERCHANT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"merchantId": merchant.merchant_id, "apiKey": merchant.api_key}))
    path.chmod(0o600)
