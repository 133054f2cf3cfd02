"""cdk-nag (AwsSolutions) suppressions: each one with the reason it is acceptable."""

from __future__ import annotations

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions

# The account stack's (infra/account.py) only: the functions' roles are written out.
ACCOUNT_WIDE = [
    NagPackSuppression(
        id="AwsSolutions-IAM4",
        reason=(
            "AmazonAPIGatewayPushToCloudWatchLogs for API Gateway's account logging role: "
            "the AWS-maintained policy for exactly that purpose."
        ),
        applies_to=[
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        ],
    ),
]
STACK_WIDE = [
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
        id="AwsSolutions-COG4",
        reason=(
            "Merchants are machines, authenticated by API key through the Lambda REQUEST "
            "authorizer; there are no Cognito users."
        ),
    ),
]


# Only where a stage has no firewall (dev: infra/stages.py); prod has AWS WAF.
WITHOUT_WAF = NagPackSuppression(
    id="AwsSolutions-APIG3",
    reason=(
        "A dev stage has no WAF (its throttle is 100 req/s and it holds no real cards); "
        "prod stages have AWS WAF with the common rule set and a per-IP rate limit."
    ),
)


# Only where CodeDeploy shifts the functions (prod: infra/rollouts.py).
CODEDEPLOY_ROLE = NagPackSuppression(
    id="AwsSolutions-IAM4",
    reason=(
        "AWSCodeDeployRoleForLambdaLimited for the canary deployments' role: the "
        "AWS-maintained policy for exactly that (CDK attaches it to any role it is given)."
    ),
    applies_to=[
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"
    ],
)


# CodeDeploy invokes the reconciler's rollout check hook (infra/rollouts.py).
ROLLOUT_CHECK_HOOK = NagPackSuppression(
    id="AwsSolutions-IAM5",
    reason=(
        "CodeDeploy's role may invoke the reconciler's rollout check by any of its versions "
        "(<function>:*), as CDK's pre-traffic hook grant writes it: one function, no other."
    ),
    applies_to=[{"regex": "/^Resource::<FunctionsReconcilerRolloutCheck[0-9A-F]+\\.Arn>:\\*$/g"}],
)


def suppress_reviewed_findings(
    stack: Stack, *, waf: bool = True, gradual_rollout: bool = False
) -> None:
    findings = [
        *STACK_WIDE,
        *([] if waf else [WITHOUT_WAF]),
        *([CODEDEPLOY_ROLE, ROLLOUT_CHECK_HOOK] if gradual_rollout else []),
    ]
    NagSuppressions.add_stack_suppressions(stack, findings, apply_to_nested_stacks=True)


def suppress_account_findings(stack: Stack) -> None:
    NagSuppressions.add_stack_suppressions(stack, ACCOUNT_WIDE)
