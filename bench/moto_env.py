"""paygate's resources in moto in-process, for the benchmarks that need no server."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3

from cli.provisioning import provision
from core.resources import SERVICE
from core.settings import Settings

REGION = "us-east-1"


def provisioned_settings() -> Settings:
    """Create every table, queue and key inside the active `mock_aws()`; their settings."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    settings, _ = provision(
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        sqs=boto3.client("sqs", region_name=REGION),
        kms=boto3.client("kms", region_name=REGION),
        prefix="bench",
        region=REGION,
    )
    return settings


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keeps the handlers' log lines and metric documents off the benchmark's output."""
    service_logger = logging.getLogger(SERVICE)
    level = service_logger.level
    service_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        service_logger.setLevel(level)


def count_requests(requests: Counter[str], *clients: Any) -> None:
    """From now on, adds one to requests["service:Operation"] for each request a client makes."""

    def count(model: Any, **_: Any) -> None:
        requests[f"{model.service_model.service_name}:{model.name}"] += 1

    for client in clients:
        client.meta.events.register("before-call.*.*", count)


@dataclass
class CpuSpent:
    seconds: float = 0.0


class MotoCpu:
    """Tells paygate's CPU from moto's in-process: the time between a request's
    `before-send` (where moto answers it) and its `before-parse` (botocore about to parse
    the answer, as it would an answer from AWS) is moto's, counted on the thread that made
    it; an answer that never reaches the parser (an error in moto) ends at `needs-retry`."""

    def __init__(self, *clients: Any) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._moto = 0.0
        for client in clients:
            self.watch(client)

    def watch(self, client: Any) -> None:
        client.meta.events.register_first("before-send.*.*", self._sending)
        client.meta.events.register_first("before-parse.*.*", self._answered)
        client.meta.events.register_first("needs-retry.*.*", self._answered)

    def _sending(self, **_: Any) -> None:
        self._local.started = time.thread_time()

    def _answered(self, **_: Any) -> None:
        started = getattr(self._local, "started", None)
        if started is not None:
            self._local.started = None
            with self._lock:
                self._moto += time.thread_time() - started

    @contextlib.contextmanager
    def not_ours(self) -> Iterator[None]:
        """What runs within is counted as moto's: a benchmark's own bookkeeping."""
        started = time.thread_time()
        try:
            yield
        finally:
            with self._lock:
                self._moto += time.thread_time() - started

    @contextlib.contextmanager
    def measure(self) -> Iterator[CpuSpent]:
        """The process's CPU time within, less moto's: run one function at a time in it."""
        spent = CpuSpent()
        process, moto = time.process_time(), self._moto
        try:
            yield spent
        finally:
            spent.seconds = (time.process_time() - process) - (self._moto - moto)


_RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    received = set()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Handler.received.add(self.headers.get("Paygate-Event-Id"))
        self.send_response(200)
        self.end_headers()

    def do_GET(self):
        body = str(len(Handler.received)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@dataclass(frozen=True)
class Receiver:
    url: str

    def received(self) -> int:
        """How many distinct events it was sent."""
        import urllib.request

        with urllib.request.urlopen(self.url, timeout=5) as answer:  # noqa: S310 (loopback)
            return int(answer.read())


@contextlib.contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """A merchant's webhook receiver on loopback answering 200, in a process of its own (so
    its CPU is not counted as paygate's)."""
    process = subprocess.Popen(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", _RECEIVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield Receiver(f"http://127.0.0.1:{port}/hooks")
    finally:
        process.terminate()
        process.wait(timeout=10)
