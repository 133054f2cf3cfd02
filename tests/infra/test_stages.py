"""Stages (`-c stage=dev|prod`) and redeployability: what a failed deploy or a teardown
leaves behind can never block the next deploy, and prod keeps its data, is pinned to its
account and Region, tells people about alarms and sits behind a firewall."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from core.settings import SettingsError
from infra.account import ACCOUNT_STACK
from infra.app import build_app
from tests.infra.conftest import PROD_CONTEXT, Synthesized

# The property that gives each kind of resource a physical name of its own.
PHYSICAL_NAME = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::KMS::Alias": "AliasName",
}
HOLDS_DATA = ("AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup")


def _resources(synth: Synthesized) -> dict[str, Any]:
    return dict(synth.template.to_json()["Resources"])


def test_nothing_that_outlives_a_stack_has_a_fixed_name(synth_each: Synthesized) -> None:
    """A retained resource with a fixed name makes the next deploy fail "already exists"."""
    retained = {
        logical_id: resource
        for logical_id, resource in _resources(synth_each).items()
        if resource.get("DeletionPolicy", "Delete") != "Delete"
        or resource.get("UpdateReplacePolicy", "Delete") != "Delete"
    }
    if synth_each.stack.stage.name == "prod":
        # 8 tables, 9 keys, 21 log groups (18 functions, the API's two, WAF's), 7 queues
        assert len(retained) == 45
    # A name made from a generated id (API Gateway's execution log group) cannot collide.
    named = [
        logical_id
        for logical_id, resource in retained.items()
        if isinstance(resource.get("Properties", {}).get(PHYSICAL_NAME.get(resource["Type"])), str)
    ]
    assert named == []


def test_tables_functions_queues_and_log_groups_have_generated_names(
    synth_each: Synthesized,
) -> None:
    """So any of them can be replaced, and two stages never collide."""
    for kind in ("AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::SQS::Queue"):
        found = synth_each.resources(kind)
        assert found
        assert all(PHYSICAL_NAME[kind] not in r["Properties"] for r in found.values()), kind
    log_groups = synth_each.resources("AWS::Logs::LogGroup")
    functions = synth_each.resources("AWS::Lambda::Function")
    waf = synth_each.stack.firewall is not None
    # One per function, the API's access and execution logs, and WAF's requests (prod)
    assert len(log_groups) == len(functions) + 2 + waf
    named = [r["Properties"].get("LogGroupName") for r in log_groups.values()]
    assert named.count(None) == len(functions) + 1
    # Services that write to a group by its name: named from an id made at each create
    made = sorted(str(name) for name in named if name)
    assert "API-Gateway-Execution-Logs_" in made[0] and "Ref" in made[0]
    if waf:
        assert "aws-waf-logs-" in made[1] and "WebAcl" in made[1]


def test_prod_keeps_its_data_except_what_a_failed_create_made(synth_prod: Synthesized) -> None:
    for logical_id, resource in _resources(synth_prod).items():
        # Every queue: the stream's and the schedule's failure queues hold dead letters too
        if resource["Type"] in HOLDS_DATA or resource["Type"] == "AWS::SQS::Queue":
            policies = (resource["DeletionPolicy"], resource["UpdateReplacePolicy"])
            assert policies == ("RetainExceptOnCreate", "Retain"), logical_id
    tables = synth_prod.resources("AWS::DynamoDB::Table").values()
    assert all(t["Properties"]["DeletionProtectionEnabled"] is True for t in tables)
    assert synth_prod.stack.termination_protection is True


def test_dev_leaves_nothing_behind_on_teardown(synth: Synthesized) -> None:
    for logical_id, resource in _resources(synth).items():
        assert resource.get("DeletionPolicy", "Delete") == "Delete", logical_id
    tables = synth.resources("AWS::DynamoDB::Table").values()
    assert all(t["Properties"]["DeletionProtectionEnabled"] is False for t in tables)
    assert synth.stack.termination_protection is False


@pytest.mark.parametrize(("stage", "days"), [("dev", 14), ("prod", 365)])
def test_logs_are_json_encrypted_with_our_key_and_kept_as_the_stage_says(
    synth: Synthesized, synth_prod: Synthesized, stage: str, days: int
) -> None:
    synthesized = synth if stage == "dev" else synth_prod
    logs_key = synthesized.logical_id(synthesized.stack.storage.logs_key)
    for group in synthesized.resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == days
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [logs_key, "Arn"]}
    (key,) = [r for name, r in synthesized.resources("AWS::KMS::Key").items() if name == logs_key]
    (for_logs,) = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Service" in s["Principal"]
    ]
    assert "logs." in str(for_logs["Principal"]["Service"])
    assert "kms:EncryptionContext:aws:logs:arn" in for_logs["Condition"]["ArnLike"]
    for function in synthesized.resources("AWS::Lambda::Function").values():
        assert function["Properties"]["LoggingConfig"]["LogFormat"] == "JSON"


def test_each_function_writes_only_its_own_log_group(synth: Synthesized) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    policies = synth.resources("AWS::IAM::Policy").values()
    for function in functions.values():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        statements = [
            statement
            for policy in policies
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if "logs:PutLogEvents" in statement["Action"]
        ]
        assert [s["Resource"] for s in statements] == [{"Fn::GetAtt": [log_group, "Arn"]}]
        role_properties = synth.resources("AWS::IAM::Role")[role]["Properties"]
        assert "ManagedPolicyArns" not in role_properties


def test_everything_is_tagged_with_service_stage_and_owner(synth_prod: Synthesized) -> None:
    expected = {"service": "paygate", "stage": "prod", "owner": "payments-oncall"}
    for kind in ("AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::SQS::Queue"):
        for resource in synth_prod.resources(kind).values():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
            assert expected.items() <= tags.items(), kind
    # The account stack is shared by every stage: it does not flip between them.
    account = json.loads((synth_prod.outdir / f"{ACCOUNT_STACK}.template.json").read_text())
    (role,) = [r for r in account["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert {t["Key"]: t["Value"] for t in role["Properties"]["Tags"]}["stage"] == "shared"


def test_prod_is_pinned_to_its_account_and_region(synth_prod: Synthesized) -> None:
    assert (synth_prod.stack.account, synth_prod.stack.region) == ("123456789012", "eu-west-1")
    assert synth_prod.stack.stack_name == "paygate-prod"


@pytest.mark.parametrize("missing", ["account", "region", "owner", "alarmEmails"])
def test_a_prod_stack_missing_what_it_must_name_is_refused(tmp_path: Path, missing: str) -> None:
    context = {k: v for k, v in PROD_CONTEXT.items() if k != missing}
    with pytest.raises(SettingsError, match=f"must set {missing}"):
        build_app(str(tmp_path), context=context)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"stage": "staging"}, "stage must be one of dev, prod"),
        ({**PROD_CONTEXT, "alarmEmails": "oncall"}, "is not an email address"),
    ],
)
def test_an_unknown_stage_or_a_bad_address_is_refused(
    tmp_path: Path, context: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        build_app(str(tmp_path), context=context)


def test_alarms_reach_the_people_prod_names(synth: Synthesized, synth_prod: Synthesized) -> None:
    topic = {"Ref": synth_prod.logical_id(synth_prod.stack.monitoring.topic)}
    subscriptions = synth_prod.resources("AWS::SNS::Subscription").values()
    assert sorted(
        (s["Properties"]["Protocol"], s["Properties"]["Endpoint"])
        for s in subscriptions
        if s["Properties"]["TopicArn"] == topic
    ) == [("email", "oncall@example.com"), ("email", "payments@example.com")]
    assert synth.resources("AWS::SNS::Subscription") == {}


def test_the_stage_throttle_is_low_in_dev_and_sized_in_prod(
    synth: Synthesized, synth_prod: Synthesized
) -> None:
    def throttle(synthesized: Synthesized) -> set[tuple[int, int]]:
        (stage,) = synthesized.resources("AWS::ApiGateway::Stage").values()
        return {
            (s["ThrottlingRateLimit"], s["ThrottlingBurstLimit"])
            for s in stage["Properties"]["MethodSettings"]
            if "ThrottlingRateLimit" in s
        }

    assert throttle(synth) == {(100, 200)}
    assert throttle(synth_prod) == {(25_000, 5000)}


def _web_acl(synthesized: Synthesized) -> dict[str, Any]:
    (acl,) = synthesized.resources("AWS::WAFv2::WebACL").values()
    return dict(acl["Properties"])


def test_prod_puts_waf_with_the_common_rules_and_a_per_ip_limit_on_the_api(
    synth: Synthesized, synth_prod: Synthesized
) -> None:
    acl = _web_acl(synth_prod)
    assert acl["Scope"] == "REGIONAL"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    managed = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert (managed["VendorName"], managed["Name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    rate = rules["PerIpRateLimit"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == 30_000
    (association,) = synth_prod.resources("AWS::WAFv2::WebACLAssociation").values()
    assert "Stage" in str(association["Properties"]["ResourceArn"])
    assert synth.resources("AWS::WAFv2::WebACL") == {}


def test_prod_logs_what_waf_sees_encrypted_kept_as_its_logs_and_without_api_keys(
    synth_prod: Synthesized,
) -> None:
    (logging,) = synth_prod.resources("AWS::WAFv2::LoggingConfiguration").values()
    firewall = synth_prod.stack.firewall
    assert firewall is not None
    group = synth_prod.resources("AWS::Logs::LogGroup")[synth_prod.logical_id(firewall.log_group)]
    # To the firewall's own group, by its ARN without the ":*" WAF refuses
    destination = json.dumps(logging["Properties"]["LogDestinationConfigs"])
    assert synth_prod.logical_id(firewall.log_group) in destination and ":*" not in destination
    assert logging["Properties"]["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    assert group["Properties"]["KmsKeyId"] == {
        "Fn::GetAtt": [synth_prod.logical_id(synth_prod.stack.storage.logs_key), "Arn"]
    }
    assert group["Properties"]["RetentionInDays"] == 365
    assert group["DeletionPolicy"] == "RetainExceptOnCreate"


def test_listed_merchant_addresses_are_left_to_their_usage_plan(tmp_path: Path) -> None:
    context = {**PROD_CONTEXT, "wafAllowedCidrs": "203.0.113.0/24, 198.51.100.7/32"}
    app, stack = build_app(str(tmp_path), context=context)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    resources = template["Resources"].values()
    (ip_set,) = [r for r in resources if r["Type"] == "AWS::WAFv2::IPSet"]
    assert ip_set["Properties"]["Addresses"] == ["203.0.113.0/24", "198.51.100.7/32"]
    (acl,) = [r for r in resources if r["Type"] == "AWS::WAFv2::WebACL"]
    (rate,) = [rule for rule in acl["Properties"]["Rules"] if rule["Name"] == "PerIpRateLimit"]
    scope_down = rate["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    assert "IPSetReferenceStatement" in scope_down["NotStatement"]["Statement"]


def test_each_resource_the_runbook_looks_up_by_name_exists_once(synth_prod: Synthesized) -> None:
    """Names are generated: the runbook finds them by logical id; these must not rot."""
    runbook = (Path(__file__).resolve().parents[2] / "docs" / "runbook.md").read_text()
    looked_up = set(re.findall(r"\$\(resource (\w+)\)", runbook))
    assert len(looked_up) >= 4
    logical_ids = [
        logical_id
        for logical_id, resource in _resources(synth_prod).items()
        if "Policy" not in resource["Type"]
    ]
    for prefix in looked_up:
        assert len([i for i in logical_ids if i.startswith(prefix)]) == 1, prefix
