"""Terminal-friendly logs for the local stack: one short line per event, not Lambda's JSON.

The handlers log through powertools exactly as in Lambda; only the rendering changes. Each
line names the emulated function that logged it (cli/lambda_emulation.py's
`running_function`), even when several run at once in one process.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from cli.lambda_emulation import running_function
from core.observability import logger

T = TypeVar("T")

_SHOWN_FIRST = ("paymentId", "status", "failCode", "correlation_id")
_HIDDEN = {
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "function_name",
    "xray_trace_id",
    "source",
}


class TerminalFormatter(LambdaPowertoolsFormatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = json.loads(super().format(record))
        extras = {k: v for k, v in fields.items() if k not in _HIDDEN}
        ordered = [k for k in _SHOWN_FIRST if k in extras] + sorted(
            k for k in extras if k not in _SHOWN_FIRST
        )
        details = " ".join(f"{key}={extras[key]}" for key in ordered)
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        # Never powertools' `function_name`: another thread's invocation may have set it.
        source = fields.pop("source", None) or running_function() or "local"
        function = str(source).removeprefix("paygate-")
        message = fields.get("message", record.getMessage())
        return f"{stamp} {record.levelname:<7} {function:<15} {message}  {details}".rstrip()


def use_terminal_logs() -> None:
    """Readable lines on the terminal, and no EMF metric documents on stdout."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    formatter = TerminalFormatter()
    logger.registered_handler.setFormatter(formatter)
    name_pool_threads_after_their_function()


def name_pool_threads_after_their_function() -> None:
    """A function's thread pool (the worker handles a batch's records at once) works for the
    function that submitted to it: each task runs in a copy of its submitter's context, so
    its lines name that function too (Python's threads start with an empty context)."""
    if ThreadPoolExecutor.submit is not _SUBMIT:
        return
    setattr(ThreadPoolExecutor, "submit", _submit_in_submitters_context)  # noqa: B010


_SUBMIT = ThreadPoolExecutor.submit


def _submit_in_submitters_context(
    self: ThreadPoolExecutor, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> Future[T]:
    return _SUBMIT(self, contextvars.copy_context().run, fn, *args, **kwargs)
