"""Scheduled (EventBridge) entry point: re-queue payments stalled in flight."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    report = deps.reconciler.run()
    logger.info(
        "reconciler run",
        extra={"stalled": report.stalled, "requeued": report.requeued, "stuck": report.stuck},
    )
    return {"stalled": report.stalled, "requeued": report.requeued, "stuck": report.stuck}


lambda_handler = with_process_services(handle)
