"""Every function's concurrency bounded by design, and all the bounds, with the API at its
rate limit, fitting the account's Lambda concurrency (infra/scaling.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError
from handlers.routes import OPERATION_ROUTES
from infra.app import build_app
from infra.scaling import RECONCILER_CONCURRENCY, Scaling
from tests.infra.conftest import PROD_CONTEXT, Synthesized


def _scaling(synth: Synthesized) -> Scaling:
    return synth.stack.scaling


def test_every_function_but_the_apis_has_a_bound_of_its_own(synth_each: Synthesized) -> None:
    # GIVEN each function's reserved concurrency and its event sources' maxima
    functions = synth_each.resources("AWS::Lambda::Function")
    reserved = {
        logical_id: f["Properties"].get("ReservedConcurrentExecutions")
        for logical_id, f in functions.items()
    }
    aliases = {
        a["Properties"]["FunctionName"]["Ref"]: logical_id
        for logical_id, a in synth_each.resources("AWS::Lambda::Alias").items()
    }
    maxima: dict[str, list[int | None]] = {}
    for mapping in synth_each.resources("AWS::Lambda::EventSourceMapping").values():
        target = str(mapping["Properties"]["FunctionName"])
        (alias,) = [a for a in aliases.values() if f"'{a}'" in target]
        scaling = mapping["Properties"].get("ScalingConfig", {})
        maxima.setdefault(alias, []).append(scaling.get("MaximumConcurrency"))

    stack = synth_each.stack
    api = {synth_each.logical_id(f) for f in stack.functions.api_functions}
    rollouts = stack.rollouts
    # CodeDeploy runs the rollout check once a deploy
    hook = {synth_each.logical_id(rollouts.reconciler_check)} if rollouts else set()
    for logical_id in set(functions) - api - hook:
        bounds = maxima.get(aliases.get(logical_id, ""), [])
        # THEN each is bounded: every event source of its with a maximum, or reserved
        assert reserved[logical_id] or (bounds and all(bounds)), logical_id

    settings = _scaling(synth_each)
    assert reserved[synth_each.logical_id(stack.functions.reconciler)] == RECONCILER_CONCURRENCY
    assert reserved[synth_each.logical_id(stack.functions.event_publisher)] == (
        settings.publisher_concurrency
    )
    delivery_alias = aliases[synth_each.logical_id(stack.functions.webhook_delivery)]
    assert sorted(m or 0 for m in maxima[delivery_alias]) == sorted(
        [settings.webhook_instances, settings.slow_webhook_instances]
    )
    worker_alias = aliases[synth_each.logical_id(stack.functions.worker)]
    assert maxima[worker_alias] == [settings.worker_instances]


def test_a_failed_reconciler_run_is_not_run_again_by_lambda(synth_each: Synthesized) -> None:
    # EventBridge invokes the reconciler's live alias asynchronously: no retries there
    alias = synth_each.logical_id(
        synth_each.stack.functions.live[synth_each.stack.functions.reconciler]
    )
    (config,) = [
        c["Properties"]
        for c in synth_each.resources("AWS::Lambda::EventInvokeConfig").values()
        if f"'{alias}'" in str(c["Properties"]["Qualifier"])
    ]
    assert config["MaximumRetryAttempts"] == 0


def test_the_maxima_and_the_api_fit_the_accounts_concurrency(synth_each: Synthesized) -> None:
    # GIVEN capture, void and refund served by the API, under its stage throttle with the rest
    functions = synth_each.stack.functions
    operations = {functions.for_route[route] for route in OPERATION_ROUTES}
    assert operations <= set(functions.api_functions)

    # THEN the same budget the capacity model reports (bench/capacity_model.py) fits
    settings = _scaling(synth_each)
    budget = settings.concurrency_budget()
    assert sum(budget.values()) <= settings.usable_concurrency < settings.account_concurrency
    assert budget["API at its rate limit"] > 0


def test_maxima_that_do_not_fit_the_account_fail_the_synth(tmp_path: Path) -> None:
    # GIVEN a prod stage asked for more webhook instances than its account has room for
    context = {**PROD_CONTEXT, "webhookInstances": "1000", "accountConcurrency": "2000"}

    # THEN the synth stops, saying what to raise or lower
    with pytest.raises(SettingsError, match="accountConcurrency"):
        build_app(str(tmp_path), context=context)
