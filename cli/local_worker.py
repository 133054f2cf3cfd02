"""The local stack's worker process: Lambda's SQS event source for the payment worker,
and the reconciler's schedule. Its configuration comes from the environment, as in Lambda.
Started by `paygate local`; stops on SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from cli.lambda_emulation import SqsEventSource, lambda_context
from cli.local_logging import use_terminal_logs
from core.bootstrap import services
from core.observability import logger
from core.resources import WORKER_TIMEOUT_SECONDS
from workers import payment_worker, reconciler

# A failed job is offered again after this long (Lambda would wait for the visibility
# timeout); after maxReceiveCount offers SQS moves it to the DLQ.
RETRY_AFTER_SECONDS = 2
IDLE_WAIT_SECONDS = 0.2


def main() -> None:
    use_terminal_logs()
    deps = services()
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(payment_worker.handle(event, context, deps))

    source = SqsEventSource(
        deps.clients.sqs,
        deps.settings.jobs_queue_url,
        invoke,
        timeout_seconds=WORKER_TIMEOUT_SECONDS,
        retry_after_seconds=RETRY_AFTER_SECONDS,
        region=deps.settings.aws_region,
    )
    every = deps.settings.reconcile_every_seconds
    next_reconcile = time.monotonic() + every
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            logger.error("the local stack is gone; the worker stops too")
            return
        try:
            if source.poll_once().received == 0:
                stop.wait(IDLE_WAIT_SECONDS)
            if time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + every
                reconciler.handle({}, lambda_context("paygate-reconciler"), deps)
        except Exception as error:
            # Keep polling, as Lambda's event source mapping would.
            logger.error("worker loop error", extra={"errorType": type(error).__name__})
            stop.wait(1.0)


if __name__ == "__main__":
    main()
