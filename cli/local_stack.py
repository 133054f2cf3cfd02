"""`paygate local`: the whole system on one machine.

An AWS emulator (moto server) with the same tables, queues and key as the CDK stack, built
from core.resources; a development merchant; the API on localhost through the real
authorizer and handlers; the worker and the reconciler in a process of their own, as a
separate Lambda would be. Ctrl-C stops everything.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import IO, Any

import boto3

from cli.child_process import forward_output
from cli.emulator import AwsEmulator
from cli.local_api import LocalApiGateway, serve
from cli.local_api_instance import READY
from cli.local_logging import use_terminal_logs
from cli.local_state import (
    DEV_MERCHANT_ID,
    LOCAL_CREDENTIALS,
    STATE_FILE_ENV,
    DevMerchant,
    StateFileError,
    keys_changed_marker,
    read_state,
    save_dev_merchant,
    saved_dev_merchant,
)
from cli.provisioning import provision
from core.bootstrap import AwsClients, Services
from core.domain.clock import SystemClock, epoch_seconds
from core.domain.merchants import generate_api_key
from core.observability import logger
from core.resources import DEFAULT_PREFIX, LOCAL_API_PORT, RESOURCE_ENV_VARS, EnvVar
from core.settings import Settings

LOCAL_REGION = "us-east-1"
# Quicker than production, so a demo shows retries, re-checks, the DLQ and the resolution
# bound in seconds or minutes (the README's walk-through promises these times).
LOCAL_TUNING = {
    EnvVar.BANK_TIMEOUT_SECONDS: "0.5",
    EnvVar.BANK_RETRY_INITIAL_SECONDS: "0.1",
    EnvVar.BANK_RETRY_MAX_SECONDS: "0.5",
    EnvVar.RECHECK_BASE_SECONDS: "2",
    EnvVar.RECHECK_CAP_SECONDS: "30",
    EnvVar.RECONCILE_AFTER_SECONDS: "60",
    EnvVar.RESOLVE_AFTER_SECONDS: "900",
    EnvVar.RECONCILE_EVERY_SECONDS: "10",
    # `paygate listen` receives webhooks on loopback over http (a deployed stack refuses it).
    EnvVar.WEBHOOKS_ALLOW_LOOPBACK: "1",
    # One publisher reads a merchant's endpoints for every event: no hot key to spare, and a
    # developer's new endpoint (`paygate listen`) gets the very next event.
    EnvVar.ENDPOINT_LIST_SECONDS: "0",
    # Likewise every delivery reads its endpoint: a deletion or a rotation shows at once.
    EnvVar.ENDPOINT_READ_SECONDS: "0",
}


class PortInUseError(Exception):
    pass


class AlreadyRunningError(Exception):
    """A live local stack already writes this state file."""


@dataclass(frozen=True)
class LocalStackOptions:
    state_file: Path
    host: str = "127.0.0.1"
    # 0: any free port (the state file says which).
    port: int = LOCAL_API_PORT
    aws_port: int = 0
    # API instances (processes) sharing the port, as Lambda runs several at once.
    api_instances: int = 2


@dataclass(frozen=True)
class LocalStackInfo:
    url: str
    api_key: str
    merchant_id: str
    aws_endpoint_url: str
    dlq_url: str
    settings: Settings
    worker_pid: int
    emulator_pid: int
    api_instance_pids: list[int]
    api_port: int
    aws_port: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": os.getpid(),
                "url": self.url,
                "docsUrl": self.url + "/docs",
                "apiKey": self.api_key,
                "merchantId": self.merchant_id,
                "apiPort": self.api_port,
                "awsPort": self.aws_port,
                "awsEndpointUrl": self.aws_endpoint_url,
                "deadLetterQueueUrl": self.dlq_url,
                "workerPid": self.worker_pid,
                "emulatorPid": self.emulator_pid,
                "apiInstancePids": self.api_instance_pids,
                "environment": self.settings.to_env(),
            },
            indent=2,
        )


def _port_in_use(what: str, port: int, option: str, variable: str) -> PortInUseError:
    return PortInUseError(
        f"port {port} ({what}) is already in use: stop whatever holds it (`lsof -i :{port}`) "
        f"or choose another: `make run {variable}=<port>` or `paygate local {option} <port>`"
    )


def _ensure_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the API server will: TIME_WAIT leftovers of a previous run do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise _port_in_use("the API", port, "--port", "PORT") from None


def local_settings(provisioned: Settings, environ: dict[str, str]) -> Settings:
    """The resources the emulator was given, the local stack's quicker timings, and any
    `PAYGATE_*` setting from the environment over both."""
    resources = {k: v for k, v in provisioned.to_env().items() if k in RESOURCE_ENV_VARS}
    tunables = {str(key): value for key, value in LOCAL_TUNING.items()}
    overrides = {
        key: value
        for key, value in environ.items()
        if key.startswith("PAYGATE_") and key not in RESOURCE_ENV_VARS
    }
    return Settings.from_env(resources | tunables | overrides)


def _check_not_running(state_file: Path) -> str | None:
    """Refuse to start over a live stack, or over a file that is not a state file; a note
    if a stale state file (its stack is gone) will be replaced."""
    if not state_file.exists():
        return None
    try:
        state = read_state(state_file)
    except StateFileError:
        raise AlreadyRunningError(
            f"{state_file} exists and is not a state file of paygate's local stack: it is "
            "left alone; choose another --state-file (or remove it)"
        ) from None
    if state.is_alive():
        raise AlreadyRunningError(
            f"a local stack is already running at {state.url} (pid {state.pid}, state file "
            f"{state_file}); stop it first (Ctrl-C in its terminal, or `kill -INT {state.pid}`)"
        )
    return f"replacing {state_file}, left by a stack that is gone (pid {state.pid})"


class LocalStack:
    def __init__(self, options: LocalStackOptions) -> None:
        self._options = options
        self._emulator = AwsEmulator(options.host, options.aws_port)
        self._api_server: ThreadingHTTPServer | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self._api_instances: list[subprocess.Popen[str]] = []
        self._wrote_state = False
        self._lock: IO[str] | None = None
        self.info: LocalStackInfo | None = None
        # Said before starting: e.g. that a stale state file is being replaced.
        self.notes: list[str] = []

    def start(self) -> LocalStackInfo:
        options = self._options
        self._hold_lock()
        note = _check_not_running(options.state_file)
        if note:
            self.notes.append(note)
        _ensure_port_free(options.host, options.port)
        try:
            endpoint = self._emulator.start()
        except OSError:
            raise _port_in_use(
                "the AWS emulator", options.aws_port, "--aws-port", "AWS_PORT"
            ) from None
        os.environ.update(LOCAL_CREDENTIALS)
        session = boto3.session.Session(region_name=LOCAL_REGION)
        provisioned, dlq_url = provision(
            dynamodb=session.client("dynamodb", endpoint_url=endpoint),
            sqs=session.client("sqs", endpoint_url=endpoint),
            kms=session.client("kms", endpoint_url=endpoint),
            prefix=DEFAULT_PREFIX,
            region=LOCAL_REGION,
            endpoint_url=endpoint,
        )
        settings = local_settings(provisioned, dict(os.environ))
        os.environ.update(settings.to_env())
        clock = SystemClock()
        services = Services(settings, AwsClients(settings), clock)
        dev = saved_dev_merchant(options.state_file) or DevMerchant(
            DEV_MERCHANT_ID, generate_api_key()
        )
        services.merchants.create_merchant(
            dev.merchant_id,
            "Development merchant",
            created_at=epoch_seconds(clock),
            actor="paygate local",
            api_key=dev.api_key,
        )
        save_dev_merchant(options.state_file, dev)
        gateway = LocalApiGateway(
            services, LOCAL_REGION, keys_changed=keys_changed_marker(options.state_file)
        )
        try:
            server = serve(gateway, options.host, options.port)
        except OSError:
            self._emulator.stop()
            raise _port_in_use("the API", options.port, "--port", "PORT") from None
        self._api_server = server
        threading.Thread(target=server.serve_forever, name="local-api", daemon=True).start()
        child_env = (
            os.environ
            | settings.to_env()
            | LOCAL_CREDENTIALS
            | {STATE_FILE_ENV: str(options.state_file.resolve())}
        )
        port = server.server_address[1]
        for _ in range(options.api_instances - 1):
            self._api_instances.append(
                self._start_api_instance(options.host, port, server.fileno(), child_env)
            )
        # Its output is its logs: on our stderr, as the stack's own (cli/child_process.py).
        self._worker = subprocess.Popen(
            [sys.executable, "-m", "cli.local_worker"], env=child_env, stdout=sys.stderr
        )
        self.info = LocalStackInfo(
            url=f"http://{options.host}:{port}",
            api_key=dev.api_key,
            merchant_id=dev.merchant_id,
            aws_endpoint_url=endpoint,
            dlq_url=dlq_url,
            settings=settings,
            worker_pid=self._worker.pid,
            emulator_pid=self._emulator.pid or 0,
            api_instance_pids=[instance.pid for instance in self._api_instances],
            api_port=port,
            aws_port=int(endpoint.rsplit(":", 1)[1]),
        )
        options.state_file.parent.mkdir(parents=True, exist_ok=True)
        options.state_file.write_text(self.info.to_json())
        options.state_file.chmod(0o600)  # it holds the development API key
        self._wrote_state = True
        return self.info

    @staticmethod
    def _start_api_instance(
        host: str, port: int, listening: int, env: dict[str, str]
    ) -> subprocess.Popen[str]:
        instance = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "cli.local_api_instance",
                "--host",
                host,
                "--port",
                str(port),
                "--listening-fd",
                str(listening),
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            pass_fds=(listening,),
        )
        output = instance.stdout
        assert output is not None
        if output.readline().strip() != READY:
            instance.kill()
            raise RuntimeError("an API instance did not start")
        forward_output(output)
        return instance

    def worker_alive(self) -> bool:
        return self._worker is not None and self._worker.poll() is None

    def stop(self) -> None:
        children: list[subprocess.Popen[Any]] = [*self._api_instances]
        if self._worker is not None:
            children.append(self._worker)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        server = self._api_server
        if server is not None:
            server.shutdown()
            server.server_close()
        self._emulator.stop()
        self._remove_own_state()
        if self._lock is not None:
            self._lock.close()

    def _hold_lock(self) -> None:
        """One stack per state file, even when two start at the same moment: the lock is
        held for the stack's life (the kernel drops it if the process dies)."""
        path = self._options.state_file.with_name(self._options.state_file.name + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            _check_not_running(self._options.state_file)  # says where it runs, if it does
            raise AlreadyRunningError(
                f"another paygate local is starting with {self._options.state_file}"
            ) from None
        self._lock = lock

    def _remove_own_state(self) -> None:
        """Only the state file this stack wrote, and only while it still describes it."""
        if not self._wrote_state:
            return
        try:
            if read_state(self._options.state_file).pid == os.getpid():
                self._options.state_file.unlink()
                keys_changed_marker(self._options.state_file).unlink(missing_ok=True)
        except (StateFileError, OSError):
            pass


def run_until_interrupted(stack: LocalStack, announce: Callable[[LocalStackInfo], None]) -> int:
    """Start, announce, then wait for Ctrl-C or SIGTERM and stop cleanly."""
    use_terminal_logs()
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        announce(stack.start())
        while not stopping.wait(1.0):
            if not stack.worker_alive():
                logger.error("the worker process exited; stopping the local stack")
                return 1
        return 0
    finally:
        stack.stop()
