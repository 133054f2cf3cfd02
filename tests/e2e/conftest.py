"""End-to-end: `paygate local` started as a subprocess on free ports, driven over HTTP
and through the `paygate` CLI, then stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import card_data_leaks

STARTUP_SECONDS = 60
# Quick bank time-outs so a 504 job reaches the DLQ in seconds; the reconciler is kept out
# of the way so the DLQ flow is the one under test.
STACK_ENV = {
    "PAYGATE_BANK_TIMEOUT_SECONDS": "0.1",
    "PAYGATE_BANK_RETRY_INITIAL_SECONDS": "0.01",
    "PAYGATE_BANK_RETRY_MAX_SECONDS": "0.05",
    "PAYGATE_RECHECK_BASE_SECONDS": "1",
    "PAYGATE_RECONCILE_AFTER_SECONDS": "3600",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Nothing listens there: a server could bind it again (TIME_WAIT leftovers of closed
    client connections do not count, as for any server that sets SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any


@dataclass
class RunningStack:
    url: str
    api_key: str
    merchant_id: str
    state_file: Path
    state: dict[str, Any]
    process: subprocess.Popen[bytes]
    ports: tuple[int, int]

    def request(
        self, method: str, path: str, payload: Any = None, api_key: str | None = None
    ) -> HttpAnswer:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {api_key or self.api_key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            # Only ever the local stack's http://127.0.0.1 URL.
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return HttpAnswer(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as error:
            return HttpAnswer(error.code, json.loads(error.read() or b"null"))

    def cli(self, *args: str) -> str:
        """Run the real `paygate` command against this stack; its output."""
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", "--state-file", str(self.state_file), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ | {"COLUMNS": "250", "NO_COLOR": "1"},
            check=False,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    def aws(self, service: str) -> Any:
        make_client: Any = boto3.client
        return make_client(
            service,
            endpoint_url=self.state["awsEndpointUrl"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def wait_for(self, check: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def start_stack(tmp: Path) -> RunningStack:
    api_port, aws_port = free_port(), free_port()
    state_file = tmp / "local.json"
    log = (tmp / "stack.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "--state-file",
            str(state_file),
            "local",
            "--port",
            str(api_port),
            "--aws-port",
            str(aws_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | STACK_ENV,
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(
                "the local stack did not start: " + (tmp / "stack.log").read_text()
            )
        time.sleep(0.1)
    state = json.loads(state_file.read_text())
    return RunningStack(
        url=state["url"],
        api_key=state["apiKey"],
        merchant_id=state["merchantId"],
        state_file=state_file,
        state=state,
        process=process,
        ports=(api_port, aws_port),
    )


def stop_stack(stack: RunningStack) -> int:
    stack.process.send_signal(signal.SIGINT)
    return stack.process.wait(timeout=30)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    directory = tmp_path_factory.mktemp("stack")
    running = start_stack(directory)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            stop_stack(running)
    # Everything the API, the worker and the reconciler logged, searched for card data.
    assert card_data_leaks((directory / "stack.log").read_text()) == []
