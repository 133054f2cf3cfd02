"""`paygate local`: the whole system on one machine.

An AWS emulator (moto server) with the same tables, queues and key as the CDK stack, built
from core.resources; a development merchant; the API on localhost through the real
authorizer and handlers; the worker and the reconciler in a process of their own, as a
separate Lambda would be. Ctrl-C stops everything.
"""

from __future__ import annotations

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
from typing import Any

import boto3

from cli.child_process import forward_output
from cli.emulator import AwsEmulator
from cli.local_api import LocalApiGateway, serve
from cli.local_api_instance import READY
from cli.local_logging import use_terminal_logs
from core.bootstrap import AwsClients, Services
from core.clock import SystemClock, epoch_seconds
from core.observability import logger
from core.provisioning import provision
from core.resources import DEFAULT_PREFIX, EnvVar
from core.settings import Settings

DEFAULT_STATE_FILE = Path(".paygate/local.json")
DEV_MERCHANT_ID = "dev-merchant"
LOCAL_REGION = "us-east-1"
# Quicker than production, so a demo shows retries, re-checks and the DLQ in seconds.
LOCAL_TUNING = {
    EnvVar.BANK_TIMEOUT_SECONDS: "1.0",
    EnvVar.RECHECK_BASE_SECONDS: "2",
    EnvVar.RECHECK_CAP_SECONDS: "30",
    EnvVar.RECONCILE_AFTER_SECONDS: "60",
}
# The emulator accepts any credentials; boto3 just needs some.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class PortInUseError(Exception):
    pass


@dataclass(frozen=True)
class LocalStackOptions:
    host: str = "127.0.0.1"
    port: int = 3000
    aws_port: int = 0
    state_file: Path = DEFAULT_STATE_FILE
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

    def to_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "apiKey": self.api_key,
                "merchantId": self.merchant_id,
                "awsEndpointUrl": self.aws_endpoint_url,
                "deadLetterQueueUrl": self.dlq_url,
                "workerPid": self.worker_pid,
                "emulatorPid": self.emulator_pid,
                "apiInstancePids": self.api_instance_pids,
                "environment": self.settings.to_env(),
            },
            indent=2,
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
            raise PortInUseError(
                f"port {port} on {host} is already in use: stop whatever holds it "
                f"(`lsof -i :{port}`) or choose another with --port"
            ) from None


def _tuned_settings(provisioned: Settings) -> Settings:
    tunables = {str(key): value for key, value in LOCAL_TUNING.items()}
    overrides = {key: value for key, value in os.environ.items() if key in tunables}
    return Settings.from_env(tunables | provisioned.to_env() | overrides)


class LocalStack:
    def __init__(self, options: LocalStackOptions) -> None:
        self._options = options
        self._emulator = AwsEmulator(options.host, options.aws_port)
        self._api_server: ThreadingHTTPServer | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self._api_instances: list[subprocess.Popen[str]] = []
        self.info: LocalStackInfo | None = None

    def start(self) -> LocalStackInfo:
        options = self._options
        _ensure_port_free(options.host, options.port)
        try:
            endpoint = self._emulator.start()
        except OSError as error:
            raise PortInUseError(
                f"the AWS emulator could not bind port {options.aws_port}: {error}"
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
        settings = _tuned_settings(provisioned)
        os.environ.update(settings.to_env())
        clock = SystemClock()
        services = Services(settings, AwsClients(settings), clock)
        issued = services.merchants.create_merchant(
            DEV_MERCHANT_ID,
            "Development merchant",
            created_at=epoch_seconds(clock),
            actor="paygate local",
        )
        try:
            server = serve(LocalApiGateway(services, LOCAL_REGION), options.host, options.port)
        except OSError as error:
            self._emulator.stop()
            raise PortInUseError(f"the API could not bind port {options.port}: {error}") from None
        self._api_server = server
        threading.Thread(target=server.serve_forever, name="local-api", daemon=True).start()
        child_env = os.environ | settings.to_env() | LOCAL_CREDENTIALS
        port = server.server_address[1]
        for _ in range(options.api_instances - 1):
            self._api_instances.append(self._start_api_instance(options.host, port, child_env))
        self._worker = subprocess.Popen([sys.executable, "-m", "cli.local_worker"], env=child_env)
        self.info = LocalStackInfo(
            url=f"http://{options.host}:{port}",
            api_key=issued.api_key,
            merchant_id=DEV_MERCHANT_ID,
            aws_endpoint_url=endpoint,
            dlq_url=dlq_url,
            settings=settings,
            worker_pid=self._worker.pid,
            emulator_pid=self._emulator.pid or 0,
            api_instance_pids=[instance.pid for instance in self._api_instances],
        )
        options.state_file.parent.mkdir(parents=True, exist_ok=True)
        options.state_file.write_text(self.info.to_json())
        return self.info

    @staticmethod
    def _start_api_instance(host: str, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
        instance = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "cli.local_api_instance", "--host", host, "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
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
        self._options.state_file.unlink(missing_ok=True)


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
