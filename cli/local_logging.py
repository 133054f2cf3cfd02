"""Terminal-friendly logs for the local stack: one short line per event, not Lambda's JSON.

The handlers log through powertools exactly as in Lambda; only the rendering changes.
"""

from __future__ import annotations

import json
import logging
import os
import time

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from core.observability import logger

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
        source = fields.pop("source", None) or fields.get("function_name", "")
        function = str(source).removeprefix("paygate-")
        message = fields.get("message", record.getMessage())
        return f"{stamp} {record.levelname:<7} {function:<15} {message}  {details}".rstrip()


def use_terminal_logs() -> None:
    """Readable lines on the terminal, and no EMF metric documents on stdout."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    formatter = TerminalFormatter()
    logger.registered_handler.setFormatter(formatter)
