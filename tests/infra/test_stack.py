"""The synthesized CDK stack: the properties that matter, cdk-nag, cfn-lint, the asset."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Annotations, Match, Template

from core.domain.webhook_retry import REGISTRATION_RESOLVE_SECONDS
from core.resources import (
    ALL_TABLES,
    JOBS_DLQ,
    JOBS_QUEUE,
    MAX_RECEIVE_COUNT,
    PAYMENTS_STREAM_SOURCE,
    WORKER_TIMEOUT_SECONDS,
    EnvVar,
    StackOutput,
)
from core.settings import SettingsError
from handlers.routes import CREATE_WEBHOOK_ENDPOINT, OPERATION_ROUTES, ROUTES
from infra.account import ACCOUNT_STACK
from infra.app import build_app
from infra.nag import ACCOUNT_WIDE, STACK_WIDE, WITHOUT_WAF
from infra.packaging import BUILD_DIR, unzipped_size_bytes
from infra.scaling import Scaling
from tests.infra.conftest import Synthesized, as_list

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


def _only(resources: dict[str, Any], logical_id_part: str) -> dict[str, Any]:
    matches = [r for name, r in resources.items() if logical_id_part in name]
    assert len(matches) == 1, f"{logical_id_part}: {list(resources)}"
    return dict(matches[0]["Properties"])


def test_tables_are_recoverable_and_encrypted_with_our_key(synth_each: Synthesized) -> None:
    synth = synth_each
    tables = synth.resources("AWS::DynamoDB::Table")
    table_key = synth.logical_id(synth.stack.storage.table_key)
    assert len(tables) == len(ALL_TABLES) == 8
    for table in tables.values():
        properties = table["Properties"]
        assert properties["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["SSESpecification"]["SSEType"] == "KMS"
        assert properties["SSESpecification"]["KMSMasterKeyId"] == {
            "Fn::GetAtt": [table_key, "Arn"]
        }


def test_payments_expire_by_ttl_and_have_the_listing_and_in_flight_indexes(
    synth: Synthesized,
) -> None:
    payments = _only(synth.resources("AWS::DynamoDB::Table"), "Payments")
    assert payments["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    indexes = {index["IndexName"]: index for index in payments["GlobalSecondaryIndexes"]}
    assert indexes["byMerchantBucket"]["KeySchema"] == [
        {"AttributeName": "merchantBucket", "KeyType": "HASH"},
        {"AttributeName": "listKey", "KeyType": "RANGE"},
    ]
    assert indexes["inFlight"]["KeySchema"] == [
        {"AttributeName": "inFlight", "KeyType": "HASH"},
        {"AttributeName": "reconcileAt", "KeyType": "RANGE"},
    ]
    assert indexes["inFlight"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_every_encryption_key_rotates_and_the_mac_keys_are_hmac(synth: Synthesized) -> None:
    keys = {name: key["Properties"] for name, key in synth.resources("AWS::KMS::Key").items()}
    mac_keys = {
        name: key for name, key in keys.items() if key.get("KeyUsage") == "GENERATE_VERIFY_MAC"
    }
    encryption_keys = {name: key for name, key in keys.items() if name not in mac_keys}
    assert len(encryption_keys) >= 4
    assert all(key["EnableKeyRotation"] is True for key in encryption_keys.values())
    # KMS cannot rotate HMAC keys; these are the card digest, the cursor signature and the
    # Idempotency-Key digest.
    assert sorted(key["KeySpec"] for key in mac_keys.values()) == ["HMAC_256"] * 3


def test_jobs_go_to_the_dlq_after_five_receives_and_outlive_the_worker(
    synth: Synthesized,
) -> None:
    queues = synth.resources("AWS::SQS::Queue")
    jobs = _only(queues, "JobsQueue")
    dlq = _only(queues, "MessagingDeadLetterQueue")
    worker = _only(synth.resources("AWS::Lambda::Function"), "Worker")

    assert jobs["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT
    assert jobs["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.messaging.dead_letters), "Arn"]
    }
    assert worker["Timeout"] == WORKER_TIMEOUT_SECONDS
    assert jobs["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600 == JOBS_DLQ.retention_seconds
    assert dlq["MessageRetentionPeriod"] > jobs["MessageRetentionPeriod"]
    assert jobs["MessageRetentionPeriod"] == JOBS_QUEUE.retention_seconds
    queue_key = synth.logical_id(synth.stack.messaging.queue_key)
    for queue in (jobs, dlq):
        assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": [queue_key, "Arn"]}


def test_queues_refuse_anything_but_tls(synth: Synthesized) -> None:
    policies = synth.resources("AWS::SQS::QueuePolicy")
    assert len(policies) == len(synth.resources("AWS::SQS::Queue")) == 7
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_every_function_is_arm64_current_python_traced_and_configured(
    synth_each: Synthesized,
) -> None:
    synth = synth_each
    functions = synth.resources("AWS::Lambda::Function")
    # One per route, the authorizer, the worker, the reconciler, the event publisher and the
    # webhook delivery; prod adds the reconciler's rollout check (infra/rollouts.py)
    assert len(functions) == len(ROUTES) + 5 + (synth.stack.rollouts is not None)
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == "python3.14"
        assert properties["TracingConfig"] == {"Mode": "Active"}
        variables = properties["Environment"]["Variables"]
        for name in (
            EnvVar.PAYMENTS_TABLE,
            EnvVar.MERCHANTS_TABLE,
            EnvVar.JOBS_QUEUE_URL,
            EnvVar.CARD_KEY_ID,
        ):
            assert str(name) in variables
        assert variables["POWERTOOLS_SERVICE_NAME"] == "paygate"
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"


def _statements_of(synth: Synthesized, function_id: str) -> list[dict[str, Any]]:
    functions = synth.resources("AWS::Lambda::Function")
    role = next(
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for name, f in functions.items()
        if function_id in name
    )
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _may(statements: list[dict[str, Any]], action: str, resource: Any) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and action in as_list(statement["Action"])
        and resource in as_list(statement["Resource"])
        for statement in statements
    )


_PAYMENT = ("merchantId", "paymentId")
_EPOCH = ("cardKeyEpoch",)


@pytest.mark.parametrize(
    ("function_id", "uses"),
    [
        # make-payment encrypts a card (KMS itself only while no key pair is found)...
        ("MakePayment", {("kms:Encrypt", _PAYMENT)}),
        # ...the worker decrypts one, and wraps and unwraps the key pairs' private keys
        (
            "Worker",
            {("kms:Decrypt", _PAYMENT), ("kms:Encrypt", _EPOCH), ("kms:Decrypt", _EPOCH)},
        ),
        ("GetPayment", set()),
        ("ListPayments", set()),
        ("CreatePayment", set()),
        ("Authorizer", set()),
        ("Reconciler", set()),
    ],
)
def test_only_make_payment_encrypts_and_only_the_worker_decrypts_cards(
    synth: Synthesized, function_id: str, uses: set[tuple[str, tuple[str, ...]]]
) -> None:
    card_key = {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.card_key), "Arn"]}
    statements = _statements_of(synth, function_id)

    assert {
        (str(action), tuple(statement["Condition"]["ForAllValues:StringEquals"][_CONTEXT_KEYS]))
        for statement in statements
        if statement["Effect"] == "Allow" and card_key in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    } == uses


_CONTEXT_KEYS = "kms:EncryptionContextKeys"


def test_only_the_worker_writes_card_key_pairs_and_make_payment_reads_them(
    synth: Synthesized,
) -> None:
    table = {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.card_keys), "Arn"]}
    writes = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
    for function_id in ("MakePayment", "Worker", "GetPayment", "Reconciler", "CreatePayment"):
        statements = _statements_of(synth, function_id)
        reads = _may(statements, "dynamodb:GetItem", table)
        assert reads is (function_id in ("MakePayment", "Worker")), function_id
        assert any(_may(statements, w, table) for w in writes) is (function_id == "Worker")


@pytest.mark.parametrize(
    ("function_id", "digests", "cursors"),
    [
        ("MakePayment", True, False),
        ("ListPayments", False, True),
        ("Worker", False, False),
        ("GetPayment", False, False),
        ("CreatePayment", False, False),
        ("Authorizer", False, False),
        ("Reconciler", False, False),
    ],
)
def test_only_make_payment_computes_card_digests_and_only_listing_signs_cursors(
    synth: Synthesized, function_id: str, digests: bool, cursors: bool
) -> None:
    digest_key = {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.card_digest_key), "Arn"]}
    cursor_key = {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.cursor_key), "Arn"]}
    statements = _statements_of(synth, function_id)

    assert _may(statements, "kms:GenerateMac", digest_key) is digests
    assert _may(statements, "kms:GenerateMac", cursor_key) is cursors
    assert _may(statements, "kms:VerifyMac", cursor_key) is cursors


def test_an_authorizer_failure_is_a_retryable_503_not_a_denial(synth: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    failure = responses["AUTHORIZER_FAILURE"]
    assert failure["StatusCode"] == "503"
    assert failure["ResponseParameters"] == {
        "gatewayresponse.header.Retry-After": "'1'",
        "gatewayresponse.header.Request-Id": "context.requestId",
    }
    body = json.loads(failure["ResponseTemplates"]["application/json"])
    assert body["failCode"] == "service_unavailable"


def test_the_reconciler_may_settle_payments_with_the_bank(synth: Synthesized) -> None:
    ledger = {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.bank_ledger), "Arn"]}

    assert _may(_statements_of(synth, "Reconciler"), "dynamodb:UpdateItem", ledger)


def test_the_authorizer_reads_only_merchants_and_get_payment_only_reads(
    synth: Synthesized,
) -> None:
    payments = {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.payments), "Arn"]}
    merchants = {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.merchants), "Arn"]}
    authorizer = _statements_of(synth, "Authorizer")
    get_payment = _statements_of(synth, "GetPayment")

    assert _may(authorizer, "dynamodb:GetItem", merchants)
    assert not _may(authorizer, "dynamodb:GetItem", payments)
    assert _may(get_payment, "dynamodb:GetItem", payments)
    assert not _may(get_payment, "dynamodb:PutItem", payments)
    assert not _may(get_payment, "dynamodb:UpdateItem", payments)


def test_the_worker_takes_batches_reports_partial_failures_and_is_capped(
    synth: Synthesized,
) -> None:
    # By default: batches of 10, and 700 instances, so at most 7,000 bank calls in flight
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 700},
        },
    )
    worker = _only(synth.resources("AWS::Lambda::Function"), "Worker")
    environment = worker["Environment"]["Variables"]
    assert environment["PAYGATE_WORKER_CONCURRENCY"] == "10"
    # The reconciler reads it: how fast a backlog drains at the slowest.
    assert environment["PAYGATE_WORKER_INSTANCES"] == "700"
    assert environment["PAYGATE_IN_FLIGHT_SHARDS"] == "64"
    assert environment["PAYGATE_MERCHANT_BUCKETS"] == "32"
    # Cards sealed to the day's key pair unless an upgrade's first step says otherwise.
    assert environment["PAYGATE_CARD_FORMAT"] == "2"


def test_the_worker_and_the_indexes_scale_from_cdk_context(tmp_path: Path) -> None:
    context = {
        "workerConcurrency": "20",
        "bankMaxConcurrency": "300",
        "inFlightShards": "128",
        "merchantBuckets": "64",
    }
    _, stack = build_app(str(tmp_path), "paygate-sized", context)
    template = Template.from_stack(stack)

    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 20, "ScalingConfig": {"MaximumConcurrency": 15}},
    )
    for function in template.find_resources("AWS::Lambda::Function").values():
        environment = function["Properties"]["Environment"]["Variables"]
        assert environment["PAYGATE_WORKER_CONCURRENCY"] == "20"
        assert environment["PAYGATE_WORKER_INSTANCES"] == "15"
        assert environment["PAYGATE_IN_FLIGHT_SHARDS"] == "128"
        assert environment["PAYGATE_MERCHANT_BUCKETS"] == "64"


def test_an_upgrades_first_step_writes_card_format_1_and_no_other_format_is_taken(
    tmp_path: Path,
) -> None:
    _, stack = build_app(str(tmp_path), "paygate-upgrading", {"cardFormat": "1"})
    for function in Template.from_stack(stack).find_resources("AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["PAYGATE_CARD_FORMAT"] == "1"
    with pytest.raises(SettingsError, match="PAYGATE_CARD_FORMAT must be at most 2"):
        build_app(str(tmp_path / "3"), "paygate-bad", {"cardFormat": "3"})


@pytest.mark.parametrize(
    ("context", "problem"),
    [
        ({"workerConcurrency": "0"}, "PAYGATE_WORKER_CONCURRENCY must be at least 1"),
        ({"workerConcurrency": "ten"}, "PAYGATE_WORKER_CONCURRENCY must be a number"),
        ({"bankMaxConcurrency": "19"}, "bankMaxConcurrency must be at least 20"),
        ({"bankMaxConcurrency": "many"}, "bankMaxConcurrency must be a positive whole number"),
        ({"apiRateLimit": "0"}, "apiRateLimit must be a positive whole number"),
        ({"merchantBuckets": "257"}, "PAYGATE_MERCHANT_BUCKETS must be at most 256"),
    ],
)
def test_unusable_scaling_context_is_refused_with_what_is_wrong(
    context: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError, match=problem):
        Scaling.from_context(cdk.App(context=context).node)


def test_the_reconciler_runs_on_a_schedule(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(5 minutes)",
            "Targets": Match.array_with([Match.object_like({"Arn": Match.any_value()})]),
        },
    )
    # A run may work a backlog for most of the 5 minutes, and ends before the next starts
    reconciler = _only(synth.resources("AWS::Lambda::Function"), "Reconciler")
    assert 0.5 * 300 <= reconciler["Timeout"] < 300


def test_the_api_authorizes_by_bearer_key_with_a_cache_and_keys_from_the_authorizer(
    synth: Synthesized,
) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "REQUEST",
            "IdentitySource": "method.request.header.Authorization",
            "AuthorizerResultTtlInSeconds": 300,
        },
    )
    synth.template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"ApiKeySourceType": "AUTHORIZER"}
    )
    methods = [
        m["Properties"]
        for m in synth.resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] != "OPTIONS"
    ]
    assert len(methods) == len(ROUTES) == 12
    for method in methods:
        assert method["AuthorizationType"] == "CUSTOM"
        assert method["ApiKeyRequired"] is True
        assert "RequestValidatorId" in method


def test_merchants_are_throttled_by_a_usage_plan_and_errors_keep_our_format(
    synth_prod: Synthesized,
) -> None:
    synth = synth_prod
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Throttle": {"RateLimit": 50, "BurstLimit": 100}},
    )
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Throttle": {"RateLimit": 12_500, "BurstLimit": 5000}},
    )
    # The stage takes the peak the capacity model is sized for (about 20,000 requests/s)
    stage = _only(synth.resources("AWS::ApiGateway::Stage"), "")
    assert {
        (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"])
        for setting in stage["MethodSettings"]
        if "ThrottlingRateLimit" in setting
    } == {(25_000, 5000)}
    assert {"UsagePlanId", "LargeUsagePlanId"} <= set(synth.template.to_json()["Outputs"])
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    unauthorized = json.loads(responses["UNAUTHORIZED"]["ResponseTemplates"]["application/json"])
    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    assert unauthorized == {
        "failCode": "unauthorized",
        "failReason": "missing or invalid API key",
        "requestId": "$context.requestId",
    }
    assert responses["THROTTLED"]["StatusCode"] == "429"
    blocked = json.loads(responses["WAF_FILTERED"]["ResponseTemplates"]["application/json"])
    assert (responses["WAF_FILTERED"]["StatusCode"], blocked["failCode"]) == (
        "403",
        "request_blocked",
    )


def test_the_api_stage_logs_access_and_traces(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "TracingEnabled": True,
            "MethodSettings": Match.array_with(
                [Match.object_like({"LoggingLevel": "ERROR", "DataTraceEnabled": False})]
            ),
        },
    )


def test_each_alarm_notifies_the_ops_topic(synth: Synthesized) -> None:
    topic = {"Ref": synth.logical_id(synth.stack.monitoring.topic)}
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }
    functions = {function.node.id for function in synth.stack.functions.all}
    prefix = f"{synth.stack.stack_name}-"
    alarms = {name.removeprefix(prefix): alarm for name, alarm in alarms.items()}
    assert set(alarms) == {f"{name}Errors" for name in functions} | {
        "DeadLetterQueueNotEmpty",
        "JobsQueueOldestMessageAge",
        "WorkerRecordsFailed",
        "WorkerThrottles",
        "Api5xxErrors",
        "ApiThrottles",
        "ApiLatencyP99",
        "PaymentsStuck",
        "ReconcilerPaymentErrors",
        "ReconcilerScheduleFailed",
        "PaymentsSettledAtBound",
        "OperationJobsNotQueued",
        "CardKeyUpkeepFailures",
        "UnreadablePayments",
        "WebhookDeadLetters",
        "EventStreamFailures",
        "EventPublisherIteratorAge",
    } | {f"{table.node.id}TableThrottles" for table in _tables(synth)} | {
        f"{queue}OldestMessageAge" for queue in ("DeliveriesQueue", "SlowDeliveriesQueue")
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic]
    dlq = alarms["DeadLetterQueueNotEmpty"]
    assert (dlq["MetricName"], dlq["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 1)
    # Record failures are partial batch responses, invisible to Lambda's Errors metric
    records = alarms["WorkerRecordsFailed"]
    assert (records["Namespace"], records["MetricName"]) == ("Paygate", "RecordsFailed")
    throttles = alarms["PaymentsTableThrottles"]
    names = {
        m["MetricStat"]["Metric"]["MetricName"] for m in throttles["Metrics"] if "MetricStat" in m
    }
    assert names == {"ReadThrottleEvents", "WriteThrottleEvents"}
    runbook = (Path(__file__).resolve().parents[2] / "docs" / "runbook.md").read_text()
    for name in alarms:
        assert name in runbook


def _tables(synth: Synthesized) -> list[Any]:
    return [c for c in synth.stack.node.find_all() if isinstance(c, dynamodb.Table)]


def _watched_ids(alarm: dict[str, Any]) -> set[str]:
    """The logical ids an alarm's metrics name in their dimensions."""
    metrics = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
    dimensions = [d for m in metrics for d in m["Dimensions"]] + alarm.get("Dimensions", [])
    found = json.dumps([d["Value"] for d in dimensions])
    return {part.split('"')[0] for part in re.split(r'"(?:Ref|Fn::GetAtt)": \[?"', found)[1:]}


def test_every_queue_table_and_function_has_an_alarm_derived_not_listed(
    synth_each: Synthesized,
) -> None:
    # GIVEN every queue, table and function of the stage's template
    kinds = ("AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::Lambda::Function")
    resources = {logical_id for kind in kinds for logical_id in synth_each.resources(kind)}

    # THEN an alarm watches each
    watched = set().union(
        *(
            _watched_ids(a["Properties"])
            for a in synth_each.resources("AWS::CloudWatch::Alarm").values()
        )
    )
    assert resources - watched == set()


def test_the_alarm_topic_lets_cloudwatch_and_budgets_publish_over_tls_only(
    synth: Synthesized,
) -> None:
    (policy,) = synth.resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allowed = {
        statement["Principal"]["Service"]: statement
        for statement in statements
        if statement["Effect"] == "Allow"
    }
    assert set(allowed) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    for statement in allowed.values():
        assert statement["Action"] == "sns:Publish"
        assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]
    denied = [s for s in statements if s["Effect"] == "Deny"]
    assert [d["Condition"] for d in denied] == [{"Bool": {"aws:SecureTransport": "false"}}]


def test_a_monthly_budget_notifies_the_topic_and_failed_schedules_are_kept(
    synth: Synthesized,
) -> None:
    topic = {"Ref": synth.logical_id(synth.stack.monitoring.topic)}
    (budget,) = synth.resources("AWS::Budgets::Budget").values()
    notifications = budget["Properties"]["NotificationsWithSubscribers"]
    assert {n["Notification"]["NotificationType"] for n in notifications} == {
        "ACTUAL",
        "FORECASTED",
    }
    assert all(
        n["Subscribers"] == [{"SubscriptionType": "SNS", "Address": topic}] for n in notifications
    )
    # The stack's own cost, not the account's
    assert budget["Properties"]["Budget"]["CostFilters"] == {
        "TagKeyValue": [f"aws:cloudformation:stack-name${synth.stack.stack_name}"]
    }
    rule = _only(synth.resources("AWS::Events::Rule"), "ReconcileSchedule")
    (target,) = rule["Targets"]
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 2


def test_api_gateway_logging_is_set_once_per_account_not_by_each_stage(
    synth: Synthesized, tmp_path: Path
) -> None:
    assert synth.resources("AWS::ApiGateway::Account") == {}
    app, _ = build_app(str(tmp_path), "paygate-staging")
    account_stack = app.node.find_child(ACCOUNT_STACK)
    assert isinstance(account_stack, cdk.Stack)
    account = Template.from_stack(account_stack)
    account.resource_count_is("AWS::ApiGateway::Account", 1)
    assert [dependency.stack_name for dependency in synth.stack.dependencies] == [ACCOUNT_STACK]


def test_the_dashboard_shows_queues_outcomes_bank_and_api(synth: Synthesized) -> None:
    dashboard = _only(synth.resources("AWS::CloudWatch::Dashboard"), "Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    for needle in (
        "ApproximateNumberOfMessagesVisible",
        "PaymentsAccepted",
        "PaymentsDeclined",
        "BankLatency",
        "Latency",
    ):
        assert needle in body
    # Every alarm of the ops topic is on it, the ones derived from the stack included
    for alarm in synth.stack.monitoring.alarms:
        assert synth.logical_id(alarm) in body, alarm.node.id


def test_capture_void_and_refund_are_watched_and_an_unqueued_operation_warns(
    synth: Synthesized,
) -> None:
    # GIVEN the alarms of the ops topic and the dashboard
    alarms = {
        a["Properties"]["AlarmName"].removeprefix(f"{synth.stack.stack_name}-"): a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }
    dashboard = _only(synth.resources("AWS::CloudWatch::Dashboard"), "Dashboard")
    body = json.dumps(dashboard["DashboardBody"])

    # THEN each operation's function has its errors alarm, on the dashboard
    for route in OPERATION_ROUTES:
        errors = synth.stack.monitoring.by_name[f"{route.construct_id}Errors"]
        assert synth.logical_id(errors) in body
    # AND an operation recorded but not queued warns (the reconciler queues it), on the topic
    unqueued = alarms["OperationJobsNotQueued"]
    assert (unqueued["Namespace"], unqueued["MetricName"], unqueued["Threshold"]) == (
        "Paygate",
        "OperationJobsNotQueued",
        1,
    )
    assert unqueued["AlarmDescription"].startswith("Warning:")
    assert "25 min" in unqueued["AlarmDescription"]
    assert unqueued["AlarmActions"] == [{"Ref": synth.logical_id(synth.stack.monitoring.topic)}]
    # AND expired authorizations only show on the dashboard, beside what was asked and answered
    assert not any(a.get("MetricName") == "AuthorizationsExpired" for a in alarms.values())
    for metric in ("CapturesAsked", "VoidsAsked", "RefundsAsked", "RefundsFailed"):
        assert metric in body
    assert "AuthorizationsExpired" in body


def test_the_outputs_name_what_the_cli_reads(synth: Synthesized) -> None:
    outputs = synth.template.to_json()["Outputs"]
    assert {str(name) for name in StackOutput} <= set(outputs)


def test_cdk_nag_finds_no_unsuppressed_error_and_every_suppression_says_why(
    synth_each: Synthesized,
) -> None:
    for stack in synth_each.stack.node.scope.node.children:  # type: ignore[union-attr]
        if isinstance(stack, Stack):
            annotations = Annotations.from_stack(stack)
            errors = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
            assert [f"{e.id}: {e.entry.data}" for e in errors] == []
    reviewed = [*STACK_WIDE, *ACCOUNT_WIDE, WITHOUT_WAF]
    assert all(len(suppression.reason) >= 40 for suppression in reviewed)


def test_only_a_stage_without_a_firewall_waives_the_waf_finding(
    synth: Synthesized, synth_prod: Synthesized
) -> None:
    def waived(synthesized: Synthesized) -> set[str]:
        metadata = synthesized.stack.template_options.metadata or {}
        return {s["id"] for s in metadata.get("cdk_nag", {}).get("rules_to_suppress", [])}

    assert "AwsSolutions-APIG3" in waived(synth)
    assert "AwsSolutions-APIG3" not in waived(synth_prod)
    # The functions' roles are written out: only prod's CodeDeploy role has a managed policy
    assert "AwsSolutions-IAM4" not in waived(synth)
    assert len(waived(synth)) == len(waived(synth_prod)) == 3


def test_cfn_lint_finds_no_errors(synth_each: Synthesized) -> None:
    synth = synth_each
    templates = [synth.template_file, synth.outdir / f"{ACCOUNT_STACK}.template.json"]
    # W3005 (a DependsOn that a GetAtt already implies) is how CDK writes roles' policies.
    result = subprocess.run(
        [CFN_LINT, "--ignore-checks", "W3005", "--", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_function_asset_holds_code_and_arm64_dependencies_and_no_tests(
    synth: Synthesized,
) -> None:
    assets = [path for path in synth.outdir.iterdir() if path.name.startswith("asset.")]
    assert len(assets) == 1
    asset = assets[0]
    for module in (
        "handlers/create_payment.py",
        "handlers/authorizer.py",
        "workers/payment_worker.py",
        "core/use_cases/payment_service.py",
        "core/domain/payment.py",
        "core/adapters/dynamodb_payments.py",
        "aws_lambda_powertools/__init__.py",
        "tenacity/__init__.py",
    ):
        assert (asset / module).is_file(), module
    native = list(asset.glob("pydantic_core/*.so"))
    assert native and all("aarch64" in path.name for path in native)
    assert not (asset / "tests").exists()
    assert not (asset / "cli").exists()
    assert not list(asset.rglob("provisioning.py")), "local-only code stays out of the asset"
    assert not list(asset.rglob("__pycache__"))
    size = unzipped_size_bytes(asset)
    assert size < LAMBDA_UNZIPPED_LIMIT
    (BUILD_DIR / "asset-size.txt").write_text(f"{size}\n")
    print(f"\nLambda asset unzipped: {size / 1e6:.1f} MB")


def test_the_access_log_has_one_json_line_per_request_with_the_merchant(
    synth: Synthesized,
) -> None:
    stage = _only(synth.resources("AWS::ApiGateway::Stage"), "DeploymentStage")
    line_format = stage["AccessLogSetting"]["Format"]
    # A sample line as API Gateway writes it: valid JSON, status and latency as numbers.
    sample = (
        line_format.replace("$context.status", "429")
        .replace("$context.responseLatency", "12")
        .replace("$context.error.messageString", '"Too Many Requests"')
    )
    document = json.loads(sample)
    assert document["status"] == 429
    # ... which the 429 filter compares as a number, as it is written
    (throttled,) = synth.resources("AWS::Logs::MetricFilter").values()
    assert throttled["Properties"]["FilterPattern"] == "{ $.status = 429 }"
    assert document["merchantId"] == "$context.authorizer.merchantId"
    assert {"requestId", "method", "path", "ms", "time"} <= set(document)


def test_the_api_serves_each_route_of_the_registry_with_its_own_function(
    synth_each: Synthesized,
) -> None:
    # GIVEN each stage's template (prod puts a firewall and canaries in front)
    synth = synth_each
    functions = synth.resources("AWS::Lambda::Function")
    # API Gateway invokes each function's live alias (tests/infra/test_rollouts.py)
    handlers = {
        logical_id: functions[alias["Properties"]["FunctionName"]["Ref"]]["Properties"]["Handler"]
        for logical_id, alias in synth.resources("AWS::Lambda::Alias").items()
    }
    paths = {
        logical_id: resource["Properties"]["PathPart"]
        for logical_id, resource in synth.resources("AWS::ApiGateway::Resource").items()
    }
    served, aliases = set(), []
    for method in synth.resources("AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        uri = json.dumps(properties["Integration"]["Uri"])
        invoked = [logical_id for logical_id in handlers if f'"{logical_id}"' in uri]
        aliases += invoked
        served.add(
            (
                properties["HttpMethod"],
                paths[properties["ResourceId"]["Ref"]],
                *(handlers[logical_id] for logical_id in invoked),
            )
        )

    # THEN each route is served by its handler (capture, void and refund share a module)...
    assert served == {(r.method, r.name, r.lambda_handler) for r in ROUTES}
    # AND each by a function of its own
    assert len(aliases) == len(set(aliases)) == len(ROUTES)


def test_registering_an_endpoint_waits_for_dns_well_within_its_functions_timeout(
    synth: Synthesized,
) -> None:
    """A name server is the merchant's to make slow: registration stops waiting for it with
    at least one AWS read timeout (5 s, core/bootstrap.py) left for encrypting the secret
    and writing, so a slow name server costs a 422, never a timeout."""
    route = CREATE_WEBHOOK_ENDPOINT
    (timeout,) = [
        function["Properties"]["Timeout"]
        for function in synth.resources("AWS::Lambda::Function").values()
        if function["Properties"]["Description"].endswith(f": {route.method} {route.path}")
    ]
    assert timeout - REGISTRATION_RESOLVE_SECONDS >= 5


def test_the_merchant_index_projects_only_what_listing_shows(synth: Synthesized) -> None:
    payments = _only(synth.resources("AWS::DynamoDB::Table"), "Payments")
    projections = {
        index["IndexName"]: index["Projection"] for index in payments["GlobalSecondaryIndexes"]
    }

    assert projections["inFlight"] == {"ProjectionType": "KEYS_ONLY"}
    assert projections["byMerchantBucket"]["ProjectionType"] == "INCLUDE"
    listed = set(projections["byMerchantBucket"]["NonKeyAttributes"])
    assert {"status", "amount", "cardLastFour", "failCode"} <= listed
    assert not listed & {"cardCiphertext", "writeToken", "lastError", "reconcileAt", "inFlight"}


def test_the_payments_stream_source_is_the_one_the_local_stack_emulates(
    synth: Synthesized,
) -> None:
    # The emulator (cli/lambda_emulation.py) reads the same settings: core/resources.py
    failures = {"Fn::GetAtt": [synth.logical_id(synth.stack.processing.stream_failures), "Arn"]}
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": PAYMENTS_STREAM_SOURCE.batch_size,
            "BisectBatchOnFunctionError": PAYMENTS_STREAM_SOURCE.bisect_batch_on_error,
            "MaximumRetryAttempts": PAYMENTS_STREAM_SOURCE.retry_attempts,
            "DestinationConfig": {"OnFailure": {"Destination": failures}},
        },
    )
