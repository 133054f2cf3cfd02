"""The CDK app: `npx cdk synth` (see cdk.json) or `python -m infra.app`. Offline, no AWS
credentials needed. `-c stage=dev|prod` picks the stage (infra/stages.py); the stack is
named paygate-<stage> unless `-c stackName=...` says otherwise."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks

from infra.account import ACCOUNT_STACK, PaygateAccountStack
from infra.nag import suppress_account_findings, suppress_reviewed_findings
from infra.packaging import build_code_asset
from infra.stack import PaygateStack
from infra.stages import Stage


def build_app(
    outdir: str | None = None,
    stack_name: str | None = None,
    context: Mapping[str, object] | None = None,
) -> tuple[cdk.App, PaygateStack]:
    """`context` as `-c name=value` gives it (infra/scaling.py names what it may set)."""
    app = cdk.App(outdir=outdir, context=dict(context or {}))
    stage = Stage.from_context(app.node)
    account_stack = PaygateAccountStack(
        app,
        ACCOUNT_STACK,
        env=stage.environment,
        description="paygate: API Gateway's CloudWatch logging role (once per account and Region)",
    )
    stack = PaygateStack(
        app,
        stack_name or stage.stack_name,
        code=lambda_.Code.from_asset(str(build_code_asset())),
        stage=stage,
        description=f"paygate ({stage.name}): queue-driven asynchronous payment gateway",
    )
    stack.add_stack_dependency(account_stack, "API Gateway logs through the account's role")
    suppress_account_findings(account_stack)
    suppress_reviewed_findings(
        stack, waf=stage.profile.waf, gradual_rollout=stage.profile.gradual_rollout
    )
    for key, value in stage.tags.items():
        cdk.Tags.of(stack).add(key, value)
    # Shared by every stage of the account and Region: no stage of its own.
    for key, value in (stage.tags | {"stage": "shared"}).items():
        cdk.Tags.of(account_stack).add(key, value)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
