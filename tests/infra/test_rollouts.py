"""Safe rollouts: every caller invokes a published version through the function's live
alias; prod shifts it by a CodeDeploy canary that rolls back on the function's alarms, and
starts the API's functions from a SnapStart snapshot."""

from __future__ import annotations

import json
from typing import Any

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
    assert len(aliases) == 14
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
    # 9 API methods, the authorizer, the jobs and deliveries queues, the payments stream,
    # the reconciler's schedule
    assert len(callers) == 9 + 1 + 3 + 1
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
    assert len(groups) == 14
    alarms = {
        logical_id: alarm["Properties"]["AlarmName"]
        for logical_id, alarm in synth_prod.resources("AWS::CloudWatch::Alarm").items()
    }
    watched: dict[str, set[str]] = {}
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
        names = {
            alarms[_refs(a["Name"]).pop()].split("-")[-1]
            for a in properties["AlarmConfiguration"]["Alarms"]
        }
        watched[str(names)] = names
    # Each alias is shifted by CodeDeploy (its update policy names the group)
    for logical_id in aliases.values():
        alias = synth_prod.template.to_json()["Resources"][logical_id]
        assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"]
    every = [names for names in watched.values()]
    assert {"WorkerErrors", "WorkerRecordsFailed"} in every
    assert {"GetPaymentErrors", "Api5xxErrors", "ApiLatencyP99"} in every
    assert {"ReconcilerErrors"} in every


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
    assert len(api) == 4
    assert snap_started(synth_prod) == api
    assert snap_started(synth) == set()
