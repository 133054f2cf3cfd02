"""CodeDeploy's BeforeAllowTraffic hook for the reconciler (infra/rollouts.py): run the new
version once and let the deployment go on only if that run worked."""

from __future__ import annotations

import time
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from core.bootstrap import Services, with_process_services
from core.observability import logger
from core.use_cases.rollout_check import RolloutCheck

# Kept back from the hook's time budget to report the verdict to CodeDeploy.
REPORT_MARGIN_SECONDS = 10


@logger.inject_lambda_context(clear_state=True)
def handle(event: dict[str, Any], context: LambdaContext, deps: Services) -> dict[str, Any]:
    target = deps.settings.rollout_check_target
    if not target:
        raise RuntimeError("no function to check (PAYGATE_ROLLOUT_CHECK_TARGET)")
    check = RolloutCheck(
        invoke=lambda: deps.rollouts.invoke_once(target),
        sleep=time.sleep,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000 - REPORT_MARGIN_SECONDS,
    )
    broken = check.run()
    status: Literal["Succeeded", "Failed"] = "Failed" if broken else "Succeeded"
    log = {"target": target, "status": status, "reason": broken or ""}
    (logger.error if broken else logger.info)("rollout check", extra=log)
    deps.rollouts.report_hook_status(
        event["DeploymentId"],
        event["LifecycleEventHookExecutionId"],
        status,
    )
    return log


lambda_handler = with_process_services(handle, primes="clients")
