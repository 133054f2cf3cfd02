"""Safe rollouts (a prod stage, infra/stages.py): a deploy publishes each changed function
as a new version, and CodeDeploy shifts its live alias to it as a canary, 10% of calls for
5 minutes, then all of them; if one of the function's alarms goes off meanwhile (each
watches the new version alone, infra/monitoring.py), the alias goes back to the previous
version and the deploy fails. The reconciler, run once per 5 minutes, is judged by running
its new version once before any shift (workers/rollout_check.py). A dev stage moves at
once."""

from __future__ import annotations

from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from core.resources import EnvVar
from infra.functions import RECONCILER_ROLLOUT_CHECK, Functions
from infra.monitoring import Monitoring

CANARY = codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES


class Rollouts(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        # The reconciler runs once per 5 minutes: a canary would seldom see its new version
        # run, so that version is run once, for real, before it takes the schedule.
        self.reconciler_check = functions.factory.build(
            RECONCILER_ROLLOUT_CHECK,
            {EnvVar.ROLLOUT_CHECK_TARGET: functions.reconciler.current_version.function_arn},
        )
        functions.reconciler.current_version.grant_invoke(self.reconciler_check)
        pre_hooks: dict[lambda_.Function, lambda_.Function] = {
            functions.reconciler: self.reconciler_check
        }
        application = codedeploy.LambdaApplication(self, "Application")
        self.groups = {
            function: codedeploy.LambdaDeploymentGroup(
                self,
                f"{function.node.id}Rollout",
                application=application,
                alias=alias,
                deployment_config=CANARY,
                alarms=monitoring.rollback_alarms(function, functions),
                pre_hook=pre_hooks.get(function),
                auto_rollback=codedeploy.AutoRollbackConfig(
                    failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
                ),
            )
            for function, alias in functions.live.items()
        }
