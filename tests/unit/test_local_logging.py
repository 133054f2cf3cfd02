"""The local stack's terminal lines name the function that logged each one, though several
functions run at once in one process and powertools keeps one set of keys for them all."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from cli.lambda_emulation import lambda_context
from cli.local_logging import use_terminal_logs
from core.observability import logger

WAIT_SECONDS = 10


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the local stack's processes print (use_terminal_logs), captured."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    formatter = handler.formatter
    # What use_terminal_logs changes for the process, put back after the test
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setattr(ThreadPoolExecutor, "submit", ThreadPoolExecutor.submit)
    use_terminal_logs()
    stream = io.StringIO()
    stdout = handler.setStream(stream)
    yield stream
    handler.setStream(stdout)
    handler.setFormatter(formatter)


def function(body: Callable[[], None]) -> Callable[[dict[str, Any], LambdaContext], None]:
    @logger.inject_lambda_context(clear_state=True)
    def handle(event: dict[str, Any], context: LambdaContext) -> None:
        body()

    return handle


def names_by_message(output: str) -> dict[str, set[str]]:
    """Each message and the function names its lines carry ("HH:MM:SS LEVEL name message")."""
    names: dict[str, set[str]] = {}
    for line in output.splitlines():
        _, _, name, message = line.split(maxsplit=3)
        names.setdefault(message.strip(), set()).add(name)
    return names


def test_two_functions_logging_at_once_each_name_their_own_lines(terminal: io.StringIO) -> None:
    # GIVEN the worker, its records handled in a thread pool, and the event publisher
    # started after it in another thread, both running when the worker logs
    worker_started, publisher_started, worker_logged = (threading.Event() for _ in range(3))

    def worker_body() -> None:
        worker_started.set()
        assert publisher_started.wait(WAIT_SECONDS)
        logger.warning("record failed; SQS will deliver it again")
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda _: logger.error("record failed on its last delivery"), [1, 2]))
        worker_logged.set()

    def publisher_body() -> None:
        publisher_started.set()
        assert worker_logged.wait(WAIT_SECONDS)
        logger.info("event published")

    def run_as(name: str, body: Callable[[], None]) -> threading.Thread:
        def invocation() -> None:  # as the local worker invokes a function, in its thread
            function(body)({}, lambda_context(name))

        thread = threading.Thread(target=invocation)
        thread.start()
        return thread

    # WHEN both run at once
    worker = run_as("paygate-worker", worker_body)
    assert worker_started.wait(WAIT_SECONDS)
    publisher = run_as("paygate-event-publisher", publisher_body)
    worker.join(WAIT_SECONDS)
    publisher.join(WAIT_SECONDS)

    # THEN every line carries the name of the function that logged it
    assert names_by_message(terminal.getvalue()) == {
        "record failed; SQS will deliver it again": {"worker"},
        "record failed on its last delivery": {"worker"},
        "event published": {"event-publisher"},
    }
