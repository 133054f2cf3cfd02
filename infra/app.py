"""The CDK app: `npx cdk synth` (see cdk.json) or `python -m infra.app`. Offline, no AWS
credentials needed. The stack's name (default "paygate") prefixes every resource name:
`npx cdk synth -c stackName=paygate-staging`."""

from __future__ import annotations

import os
from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks

from core.resources import DEFAULT_PREFIX
from infra.account import ACCOUNT_STACK, PaygateAccountStack
from infra.nag import suppress_reviewed_findings
from infra.packaging import build_code_asset
from infra.stack import PaygateStack


def build_app(
    outdir: str | None = None,
    stack_name: str | None = None,
    context: Mapping[str, object] | None = None,
) -> tuple[cdk.App, PaygateStack]:
    """`context` as `-c name=value` gives it (infra/scaling.py names what it may set)."""
    app = cdk.App(outdir=outdir, context=dict(context or {}))
    name = stack_name or app.node.try_get_context("stackName") or DEFAULT_PREFIX
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    env = cdk.Environment(account=account, region=region) if account and region else None
    account_stack = PaygateAccountStack(
        app,
        ACCOUNT_STACK,
        env=env,
        description="paygate: API Gateway's CloudWatch logging role (once per account and Region)",
    )
    stack = PaygateStack(
        app,
        name,
        code=lambda_.Code.from_asset(str(build_code_asset())),
        env=env,
        description="paygate: queue-driven asynchronous payment gateway",
    )
    stack.add_stack_dependency(account_stack, "API Gateway logs through the account's role")
    for each in (account_stack, stack):
        suppress_reviewed_findings(each)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
