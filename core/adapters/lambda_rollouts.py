"""Lambda and CodeDeploy for a rollout check (core/use_cases/rollout_check.py): invoke a
function's new version once, and tell CodeDeploy whether its deployment may go on."""

from __future__ import annotations

import json
from typing import Any, Literal

from botocore.exceptions import ClientError

from core.adapters.aws_errors import error_code
from core.use_cases.rollout_check import TrialRun

# boto3's Lambda and CodeDeploy clients (no type stubs are locked for these two).
LambdaClient = Any
CodeDeployClient = Any

# A trial run of the reconciler is a scheduled run, started by hand.
TRIAL_EVENT = {"source": "paygate.rollout-check", "detail-type": "Rollout check"}


def invoke_once(client: LambdaClient, function_arn: str) -> TrialRun:
    try:
        answer = client.invoke(
            FunctionName=function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(TRIAL_EVENT).encode(),
        )
    except ClientError as error:
        if error_code(error) == "TooManyRequestsException":
            return TrialRun(throttled=True)
        raise
    payload = answer["Payload"].read()
    if "FunctionError" in answer:
        return TrialRun(function_error=answer["FunctionError"])
    report = json.loads(payload) if payload else None
    return TrialRun(report=report if isinstance(report, dict) else None)


def report_hook_status(
    client: CodeDeployClient,
    deployment_id: str,
    execution_id: str,
    status: Literal["Succeeded", "Failed"],
) -> None:
    client.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
    )


class LambdaRollouts:
    """The rollout check's two calls over this process's clients."""

    def __init__(self, lambda_client: LambdaClient, codedeploy_client: CodeDeployClient) -> None:
        self._lambda = lambda_client
        self._codedeploy = codedeploy_client

    def invoke_once(self, function_arn: str) -> TrialRun:
        return invoke_once(self._lambda, function_arn)

    def report_hook_status(
        self, deployment_id: str, execution_id: str, status: Literal["Succeeded", "Failed"]
    ) -> None:
        report_hook_status(self._codedeploy, deployment_id, execution_id, status)
