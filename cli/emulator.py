"""The local AWS: moto server on a loopback port, in a process of its own (its own GIL, as
AWS is not in the API's process either), answering one request at a time.

DynamoDB applies each conditional write atomically; moto's threaded server does not lock,
so without serializing its requests two writers could both pass the same condition.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cli.child_process import forward_output, serve_until_stopped

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

STARTUP_SECONDS = 30


def one_request_at_a_time(app: WSGIApplication) -> WSGIApplication:
    lock = threading.Lock()

    def serialized(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return serialized


def faster_sqs_receives() -> None:
    """moto's SQS ReceiveMessage reads the queue's every attribute (counting every message)
    for each message it returns, and reads the clock through datetime arithmetic for each
    message it looks at: about 0.6 s a receive from a queue of 1,000 messages. The emulator
    answers one request at a time, so one merchant's backlog in the slow webhook lane held up
    every other call of the local stack (bench/webhook_isolation.py). Same answers, from the
    queue's retention and the wall clock: about 3 ms a receive at 1,000 messages."""
    import moto.sqs.models as sqs_models

    def within_retention(backend: Any, queue_name: str, message: Any) -> bool:
        retention = int(backend.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    moto_millis = getattr(sqs_models, "unix_time_millis")  # noqa: B009 (not exported)

    def now_millis(moment: Any = None) -> float:
        return time.time() * 1000 if moment is None else float(moto_millis(moment))

    backend = sqs_models.SQSBackend
    setattr(backend, "is_message_valid_based_on_retention_period", within_retention)  # noqa: B010
    setattr(sqs_models, "unix_time_millis", now_millis)  # noqa: B010


def faster_table_queries() -> None:
    """moto's DynamoDB Query on a table (not an index) lists every item of the table and
    sorts them all, then keeps those of the one partition asked for. Each webhook delivery
    queries its event's partition of the events table, which gains two items per event, so
    every delivery cost more than the one before: about 55 ms a query once 1,000 payments had
    made their events, and the emulator answers one request at a time, so deliveries fell
    ever further behind the payments (issue #28). Same answers, from the partition alone:
    about 3 ms. Index queries and scans are left as they are."""
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    partition = threading.local()

    def items_of_the_partition(self: Any) -> list[Any]:
        key = getattr(partition, "key", None)
        if key is None:
            return list(all_items(self))
        found = self.items.get(key)
        if found is None:
            return []
        return list(found.values()) if self.range_key_attr else [found]

    def query_one_partition(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # Positionally, as moto's backend calls it: index_name is the seventh after hash_key.
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        partition.key = hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            partition.key = None

    setattr(Table, "all_items", items_of_the_partition)  # noqa: B010
    setattr(Table, "query", query_one_partition)  # noqa: B010


def serve(host: str, port: int) -> None:
    """The child process: bind, say which port on stdout, serve until told to stop."""
    faster_sqs_receives()
    faster_table_queries()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietRequestHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    app = one_request_at_a_time(DomainDispatcherApplication(create_backend_app))
    try:
        server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    except (OSError, SystemExit) as error:
        print(json.dumps({"error": str(error) or f"cannot bind {host}:{port}"}), flush=True)
        sys.exit(1)
    serve_until_stopped(server, json.dumps({"port": server.server_port}))


class AwsEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._process: subprocess.Popen[str] | None = None
        self._bound_port: int | None = None

    def start(self) -> str:
        """Start the emulator process; OSError if its port is taken. Returns its URL."""
        self._process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "cli.emulator", "--host", self._host, "--port", str(self._port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        answer = json.loads(line) if line.strip() else {"error": "the emulator did not start"}
        if "port" not in answer:
            self._process.wait(timeout=STARTUP_SECONDS)
            raise OSError(answer.get("error", "the emulator did not start"))
        self._bound_port = int(answer["port"])
        forward_output(self._process.stdout)
        return self.endpoint_url

    @property
    def endpoint_url(self) -> str:
        assert self._bound_port is not None, "start() first"
        return f"http://{self._host}:{self._bound_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="paygate's local AWS emulator (moto server)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    serve(arguments.host, arguments.port)


if __name__ == "__main__":
    main()
