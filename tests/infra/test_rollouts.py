"""Safe rollouts: every caller invokes a published version through the function's live
alias; prod shifts it by a CodeDeploy canary that rolls back on the function's alarms, and
starts the API's functions from a SnapStart snapshot."""

from __future__ import annotations

import json
from typing import Any

from handlers.routes import OPERATION_ROUTES
from infra.functions import LIVE_ALIAS
from tests.infra.conftest import Synthesized


def _aliases(synth: Synthesized) -> dict[str, str]:
    """Each function's logical id -> its live alias's logical id."""
    return {
        alias["Properties"]["FunctionName"]["Ref"]: logical_id
        for logical_id, alias in synth.resources("AWS::Lambda::Alias").items()
        if alias["Properties"]["Name"] == LIVE_ALIAS
    }


def _refs(value: Any) -> set[str]:
    found = json.dumps(value)
    return {part.split('"')[0] for part in found.split('{"Ref": "')[1:]}


def test_every_caller_invokes_the_live_alias_not_the_function(synth_each: Synthesized) -> None:
    aliases = _aliases(synth_each)
    assert len(aliases) == 17
    functions = set(aliases)
    callers: list[Any] = [
        *(
            m["Properties"]["Integration"]["Uri"]
            for m in synth_each.resources("AWS::ApiGateway::Method").values()
        ),
        *(
            a["Properties"]["AuthorizerUri"]
            for a in synth_each.resources("AWS::ApiGateway::Authorizer").values()
        ),
        *(
            e["Properties"]["FunctionName"]
            for e in synth_each.resources("AWS::Lambda::EventSourceMapping").values()
        ),
        *(
            r["Properties"]["Targets"][0]["Arn"]
            for r in synth_each.resources("AWS::Events::Rule").values()
        ),
    ]
    # 12 API methods, the authorizer, the jobs queue and the deliveries' two lanes, the
    # payments stream, the reconciler's schedule
    assert len(callers) == 12 + 1 + 4 + 1
    invoked = set().union(*(_refs(caller) for caller in callers)) - {
        "AWS::Partition",
        "AWS::Region",
    }
    assert invoked == set(aliases.values())
    assert not invoked & functions


def test_prod_shifts_each_function_by_a_canary_that_rolls_back_on_its_alarms(
    synth_prod: Synthesized,
) -> None:
    aliases = _aliases(synth_prod)
    groups = synth_prod.resources("AWS::CodeDeploy::DeploymentGroup")
    assert len(groups) == len(aliases)
    for group in groups.values():
        properties = group["Properties"]
        assert (
            properties["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        )
        assert set(properties["AutoRollbackConfiguration"]["Events"]) >= {
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_ALARM",
        }
        assert properties["AlarmConfiguration"]["Enabled"] is True
    # Each alias is shifted by CodeDeploy (its update policy names the group)
    for logical_id in aliases.values():
        alias = synth_prod.template.to_json()["Resources"][logical_id]
        assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]


def _rollback_alarms(synth: Synthesized) -> dict[str, list[dict[str, Any]]]:
    """Each function's construct id -> the alarms its deployment group rolls back on."""
    resources = synth.template.to_json()["Resources"]
    groups = synth.resources("AWS::CodeDeploy::DeploymentGroup")
    by_group = {}
    for logical_id, alias in synth.resources("AWS::Lambda::Alias").items():
        update = resources[logical_id]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        group = groups[update["DeploymentGroupName"]["Ref"]]
        alarms = group["Properties"]["AlarmConfiguration"]["Alarms"]
        function_id = alias["Properties"]["FunctionName"]["Ref"]
        by_group[function_id] = [
            resources[_refs(alarm["Name"]).pop()]["Properties"] for alarm in alarms
        ]
    return by_group


def _version_of(synth: Synthesized, function_id: str) -> dict[str, Any]:
    """The template's reference to the function's current version number."""
    versions = synth.resources("AWS::Lambda::Version")
    (version_id,) = [
        v
        for v, version in versions.items()
        if version["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return {"Fn::GetAtt": [version_id, "Version"]}


def _dimensions(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric["MetricStat"]["Metric"]["Dimensions"]}


def test_every_rollback_alarm_watches_the_new_version_alone_minute_by_minute(
    synth_prod: Synthesized,
) -> None:
    functions = synth_prod.stack.functions
    catching = {synth_prod.logical_id(f) for f in functions.counting_own_failures}
    for function_id, alarms in _rollback_alarms(synth_prod).items():
        version = _version_of(synth_prod, function_id)
        names = sorted(alarm["AlarmName"].split("-")[-1] for alarm in alarms)
        # Invocations failing as a whole; and own failures where the function catches them
        expected = ["NewVersionErrors"] + (
            ["NewVersionOwnFailures"] if function_id in catching else []
        )
        assert [name.removeprefix(name.split("NewVersion")[0]) for name in names] == sorted(
            expected
        )
        for alarm in alarms:
            assert alarm["EvaluationPeriods"] == 1
            metrics = alarm.get("Metrics") or [
                {
                    "MetricStat": {
                        "Metric": {
                            "Dimensions": alarm["Dimensions"],
                            "MetricName": alarm["MetricName"],
                            "Namespace": alarm["Namespace"],
                        },
                        "Period": alarm["Period"],
                    }
                }
            ]
            watched = [m for m in metrics if "MetricStat" in m]
            assert watched
            for metric in watched:
                assert metric["MetricStat"]["Period"] == 60
                dimensions = _dimensions(metric)
                assert dimensions["ExecutedVersion"] == version
                assert dimensions["FunctionName"] == {"Ref": function_id}
            if "NewVersionOwnFailures" in alarm["AlarmName"]:
                (share,) = [m for m in metrics if "Expression" in m]
                assert "100 * FILL(own, 0) / FILL(invocations, 1)" in share["Expression"]
                assert alarm["Threshold"] == 5
                assert {m["MetricStat"]["Metric"]["MetricName"] for m in watched} == {
                    "OwnFailures",
                    "Invocations",
                }
    # The API's 5xx (503s by design) and stage-wide latency roll nothing back
    every = {
        alarm["AlarmName"] for alarms in _rollback_alarms(synth_prod).values() for alarm in alarms
    }
    assert not any(name.endswith(("Api5xxErrors", "ApiLatencyP99")) for name in every)


def test_a_new_reconciler_is_run_once_before_it_takes_the_schedule(
    synth_prod: Synthesized,
) -> None:
    # GIVEN the reconciler's deployment group
    reconciler = synth_prod.logical_id(synth_prod.stack.functions.reconciler)
    rollouts = synth_prod.stack.rollouts
    assert rollouts is not None
    check = rollouts.reconciler_check
    hook = synth_prod.resources("AWS::Lambda::Function")[synth_prod.logical_id(check)]

    # THEN its hook runs the reconciler's new version, which its role may invoke
    environment = hook["Properties"]["Environment"]["Variables"]
    version = _version_of(synth_prod, reconciler)["Fn::GetAtt"][0]
    assert environment["PAYGATE_ROLLOUT_CHECK_TARGET"] == {"Ref": version}
    assert hook["Properties"]["Handler"] == "workers.rollout_check.lambda_handler"
    invoke = [
        statement
        for policy in synth_prod.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
        and statement["Resource"] == {"Ref": version}
    ]
    assert invoke
    resources = synth_prod.template.to_json()["Resources"]
    (alias,) = [
        resources[a]
        for a, spec in synth_prod.resources("AWS::Lambda::Alias").items()
        if spec["Properties"]["FunctionName"] == {"Ref": reconciler}
    ]
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": synth_prod.logical_id(check)}


def test_dev_moves_at_once(synth: Synthesized) -> None:
    assert synth.resources("AWS::CodeDeploy::DeploymentGroup") == {}


def test_prod_starts_the_apis_functions_from_a_snapshot(
    synth: Synthesized, synth_prod: Synthesized
) -> None:
    def snap_started(synthesized: Synthesized) -> set[str]:
        return {
            logical_id
            for logical_id, f in synthesized.resources("AWS::Lambda::Function").items()
            if f["Properties"].get("SnapStart") == {"ApplyOn": "PublishedVersions"}
        }

    api = {
        synth_prod.logical_id(function)
        for route, function in synth_prod.stack.functions.for_route.items()
        if route.snap_start
    }
    # every route: create, make, get, list; capture, void, refund; the webhook settings' 5
    assert len(api) == 12
    assert snap_started(synth_prod) == api
    assert snap_started(synth) == set()


def test_a_new_capture_void_or_refund_version_rolls_back_on_its_own_failures(
    synth_prod: Synthesized,
) -> None:
    # GIVEN the alarms each operation's deployment group rolls back on
    alarms = _rollback_alarms(synth_prod)
    for route in OPERATION_ROUTES:
        function_id = synth_prod.logical_id(synth_prod.stack.functions.for_route[route])

        # THEN its new version's failed invocations, and its own failures (the 500s it
        # catches), each roll it back
        names = sorted(alarm["AlarmName"].split("-")[-1] for alarm in alarms[function_id])
        assert names == [
            f"{route.construct_id}NewVersionErrors",
            f"{route.construct_id}NewVersionOwnFailures",
        ]
