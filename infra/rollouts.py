"""Safe rollouts (a prod stage, infra/stages.py): a deploy publishes each changed function
as a new version, and CodeDeploy shifts its live alias to it as a canary, 10% of calls for
5 minutes, then all of them; if one of the function's alarms goes off meanwhile, the alias
goes back to the previous version and the deploy fails. A dev stage moves at once."""

from __future__ import annotations

from aws_cdk import aws_codedeploy as codedeploy
from constructs import Construct

from infra.functions import Functions
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
        application = codedeploy.LambdaApplication(self, "Application")
        self.groups = {
            function: codedeploy.LambdaDeploymentGroup(
                self,
                f"{function.node.id}Rollout",
                application=application,
                alias=alias,
                deployment_config=CANARY,
                alarms=monitoring.rollback_alarms(function, functions),
                auto_rollback=codedeploy.AutoRollbackConfig(
                    failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
                ),
            )
            for function, alias in functions.live.items()
        }
