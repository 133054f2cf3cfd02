"""cdk-nag (AwsSolutions) suppressions: each one with the reason it is acceptable."""

from __future__ import annotations

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions

STACK_WIDE = [
    NagPackSuppression(
        id="AwsSolutions-IAM4",
        reason=(
            "AWSLambdaBasicExecutionRole (logs only) for the functions, and "
            "AmazonAPIGatewayPushToCloudWatchLogs for API Gateway's account logging role: "
            "AWS-maintained, least-privilege policies for exactly those purposes."
        ),
        applies_to=[
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        ],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason=(
            "Wildcards bounded to one resource each: a table's indexes (<table>/index/*), "
            "GenerateDataKey* on a table's own key only through DynamoDB (kms:ViaService), "
            "and X-Ray trace segments, which have no resource ARN."
        ),
        applies_to=[
            {"regex": "/^Resource::<Storage.*\\.Arn>/index/\\*$/g"},
            "Action::kms:GenerateDataKey*",
            "Resource::*",
        ],
    ),
    NagPackSuppression(
        id="AwsSolutions-APIG3",
        reason=(
            "WAF is left to the operator's edge (an account-wide web ACL or CloudFront); "
            "the API is throttled per merchant by its usage plan and per stage."
        ),
    ),
    NagPackSuppression(
        id="AwsSolutions-COG4",
        reason=(
            "Merchants are machines, authenticated by API key through the Lambda REQUEST "
            "authorizer; there are no Cognito users."
        ),
    ),
]


def suppress_reviewed_findings(stack: Stack) -> None:
    NagSuppressions.add_stack_suppressions(stack, STACK_WIDE, apply_to_nested_stacks=True)
