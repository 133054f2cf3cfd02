"""Scheduled (EventBridge) entry point: re-queue payments stalled in flight."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    report = deps.reconciler.run(seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    summary = report.as_dict()
    if report.stalled or report.errors:
        logger.info("reconciler run", extra=summary)
    return summary


lambda_handler = with_process_services(handle, primes="reconciler")
