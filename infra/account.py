"""Once per account and Region: the role API Gateway writes CloudWatch logs with.

It is an account-wide setting (AWS::ApiGateway::Account), so it lives in a stack of its
own that every paygate stage depends on, rather than in each stage: deleting one stage's
stack then never takes API logging away from the others (CDK issues #10878, #22954).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

ACCOUNT_STACK = "paygate-account"


class PaygateAccountStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.logs_role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            description="API Gateway writes access and execution logs to CloudWatch Logs",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        self.api_gateway_account = apigw.CfnAccount(
            self, "ApiGatewayAccount", cloud_watch_role_arn=self.logs_role.role_arn
        )
