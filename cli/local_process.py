"""`paygate local` as a child process on free ports, for tests, benchmarks and scripts:
start it, talk to it over HTTP and through the `paygate` CLI, stop it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from cli.http_client import HttpAnswer, http_request
from cli.local_state import LOCAL_CREDENTIALS

STARTUP_SECONDS = 60


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
        return http_request(self.url, method, path, api_key or self.api_key, payload)

    def cli(self, *args: str) -> str:
        """Run the real `paygate` command against this stack; its output."""
        result = subprocess.run(  # noqa: S603 (our own interpreter and CLI)
            [sys.executable, "-m", "cli.main", "--state-file", str(self.state_file), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ | {"COLUMNS": "250", "NO_COLOR": "1"},
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"paygate {' '.join(args)} failed: {result.stderr}{result.stdout}")
        return result.stdout

    def aws(self, service: str) -> Any:
        make_client: Any = boto3.client
        return make_client(
            service,
            endpoint_url=self.state["awsEndpointUrl"],
            region_name="us-east-1",
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def wait_for(self, check: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise TimeoutError(f"timed out after {seconds}s waiting for {what}")


def start_stack(
    tmp: Path,
    env: dict[str, str] | None = None,
    *,
    state_file: Path | None = None,
    clean_env: bool = False,
) -> RunningStack:
    """Start `paygate local` on ports of its own choosing (it reports them in its state
    file), with its state and log in `tmp`. `env` overrides settings; `clean_env` starts it
    with no PAYGATE_* setting from this process's environment."""
    state_file = state_file or tmp / "local.json"
    log_path = tmp / "stack.log"
    base = {k: v for k, v in os.environ.items() if not (clean_env and k.startswith("PAYGATE_"))}
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and CLI)
            [
                sys.executable,
                "-m",
                "cli.main",
                "--state-file",
                str(state_file),
                "local",
                "--port",
                "0",
                "--aws-port",
                "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=base | (env or {}),
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _written_by(state_file, process.pid):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the local stack did not start: " + log_path.read_text())
        time.sleep(0.1)
    state = json.loads(state_file.read_text())
    return RunningStack(
        url=state["url"],
        api_key=state["apiKey"],
        merchant_id=state["merchantId"],
        state_file=state_file,
        state=state,
        process=process,
        ports=(int(state["apiPort"]), int(state["awsPort"])),
    )


def _written_by(state_file: Path, pid: int) -> bool:
    try:
        return int(json.loads(state_file.read_text()).get("pid", 0)) == pid
    except (OSError, ValueError, AttributeError):
        return False


def stop_stack(stack: RunningStack) -> int:
    """Ctrl-C, as a developer stops it; a stack that hangs is killed (its children follow
    their parent) and the hang reported."""
    stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        stack.process.wait()
        raise
