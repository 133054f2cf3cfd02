"""AWS WAF in front of a prod API: AWS's managed common rule set (the OWASP-style request
checks) and a per-IP rate limit, so a flood of requests with made-up keys is stopped at
the edge before each one invokes the authorizer and reads the merchants table.

A merchant's own volume is throttled per API key by its usage plan; the per-IP limit is
well above a standard-plan merchant's (twice 50 req/s over WAF's 5-minute window). Large
merchants send from known addresses: list them in `wafAllowedCidrs` and the rate rule
leaves them to their plan.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.api import MERCHANT_RATE_LIMIT
from infra.stages import StageProfile

WINDOW_SECONDS = 300
DEFAULT_IP_RATE_LIMIT = 2 * MERCHANT_RATE_LIMIT * WINDOW_SECONDS
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


class Firewall(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        rest_api: apigw.RestApi,
        ip_rate_limit: int,
        allowed_cidrs: tuple[str, ...],
        logs_key: kms.IKey,
        stage: StageProfile,
    ) -> None:
        super().__init__(scope, construct_id)
        limited: wafv2.CfnWebACL.StatementProperty | None = None
        if allowed_cidrs:
            allowed = wafv2.CfnIPSet(
                self,
                "RateLimitExempt",
                scope="REGIONAL",
                ip_address_version="IPV4",
                addresses=list(allowed_cidrs),
                description=f"{prefix}: merchants' addresses the per-IP limit leaves alone",
            )
            limited = wafv2.CfnWebACL.StatementProperty(
                not_statement=wafv2.CfnWebACL.NotStatementProperty(
                    statement=wafv2.CfnWebACL.StatementProperty(
                        ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(
                            arn=allowed.attr_arn
                        )
                    )
                )
            )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{prefix}-api"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name=COMMON_RULE_SET,
                    priority=0,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=COMMON_RULE_SET
                        )
                    ),
                    visibility_config=_visibility(COMMON_RULE_SET),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="PerIpRateLimit",
                    priority=1,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=ip_rate_limit,
                            evaluation_window_sec=WINDOW_SECONDS,
                            scope_down_statement=limited,
                        )
                    ),
                    visibility_config=_visibility("PerIpRateLimit"),
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "ApiAssociation",
            resource_arn=rest_api.deployment_stage.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        self._log_requests(prefix, logs_key, stage)

    def _log_requests(self, prefix: str, logs_key: kms.IKey, stage: StageProfile) -> None:
        """Every request WAF looks at, with the rule that matched: what tells a blocked
        merchant from an attack. Encrypted with the logs key, kept as long as the stage
        keeps logs. WAF writes only to a log group named aws-waf-logs-*."""
        self.log_group = logs.LogGroup(
            self,
            "RequestLogs",
            # The web ACL's id is new at each create: a retained group never blocks the next.
            log_group_name=f"aws-waf-logs-{prefix}-{self.web_acl.attr_id}",
            encryption_key=logs_key,
            retention=stage.log_retention,
            removal_policy=stage.data_removal,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            # The group's ARN without the ":*" CloudFormation gives it: WAF refuses that.
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            # The Authorization header carries merchants' API keys: never logged.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "authorization"}
                )
            ],
        )
