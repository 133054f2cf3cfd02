"""The paygate CLI against a "deployed" stack: it finds the resources from the stack's
CloudFormation outputs (moto's CloudFormation, with the tables and queues of moto)."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from cli.main import app
from core.domain.webhook_events import WebhookEvent
from core.domain.webhooks import DeliveryJob
from core.resources import StackOutput
from tests.conftest import REGION, AwsEnv
from tests.integration.webhook_support import WebhookWorld, webhook_world
from tests.support import FakeClock


def _deploy_outputs(aws: AwsEnv, usage_plan_id: str, large_plan_id: str = "none") -> str:
    """A stack of this test's own (moto lives as long as the test run); returns its name."""
    settings = aws.settings
    outputs = {
        StackOutput.API_URL: "https://example.execute-api.us-east-1.amazonaws.com/v1/",
        StackOutput.JOBS_QUEUE_URL: settings.jobs_queue_url,
        StackOutput.DLQ_URL: aws.dlq_url,
        StackOutput.PAYMENTS_TABLE: settings.payments_table,
        StackOutput.MERCHANTS_TABLE: settings.merchants_table,
        StackOutput.BANK_LEDGER_TABLE: settings.bank_ledger_table,
        StackOutput.BANK_CONTROL_TABLE: settings.bank_control_table,
        StackOutput.IDEMPOTENCY_TABLE: settings.idempotency_table,
        StackOutput.CARD_KEY_ID: settings.card_key_id,
        StackOutput.CARD_DIGEST_KEY_ID: settings.card_digest_key_id,
        StackOutput.CARD_KEYS_TABLE: settings.card_keys_table,
        StackOutput.IDEMPOTENCY_DIGEST_KEY_ID: settings.idempotency_digest_key_id,
        StackOutput.CURSOR_KEY_ID: settings.cursor_key_id,
        StackOutput.USAGE_PLAN_ID: usage_plan_id,
        StackOutput.LARGE_USAGE_PLAN_ID: large_plan_id,
        StackOutput.EVENTS_TABLE: settings.events_table,
        StackOutput.WEBHOOK_ENDPOINTS_TABLE: settings.webhook_endpoints_table,
        StackOutput.DELIVERIES_QUEUE_URL: settings.deliveries_queue_url,
        StackOutput.DELIVERIES_DLQ_URL: settings.deliveries_dlq_url,
        StackOutput.SLOW_DELIVERIES_QUEUE_URL: settings.slow_deliveries_queue_url,
        StackOutput.WEBHOOK_SECRET_KEY_ID: settings.webhook_secret_key_id,
    }
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {str(name): {"Value": value} for name, value in outputs.items()},
    }
    name = f"paygate-{uuid.uuid4().hex[:8]}"
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )
    return name


def test_merchants_create_on_a_stack_issues_a_throttled_key(aws: AwsEnv) -> None:
    # GIVEN a deployed stack with a usage plan
    apigateway = boto3.client("apigateway", region_name=REGION)
    plan_id = apigateway.create_usage_plan(name="merchants")["id"]
    stack = _deploy_outputs(aws, plan_id)

    # WHEN
    result = CliRunner().invoke(
        app, ["--stack", stack, "--region", REGION, "merchants", "create", "Ada's Shop"]
    )

    # THEN the merchant exists with a usage-plan key, and the API key was shown once
    assert result.exit_code == 0, result.output
    api_key = next(
        line.split()[-1] for line in result.output.splitlines() if line.startswith("API key")
    )
    items = aws.dynamodb.scan(TableName=aws.settings.merchants_table)["Items"]
    assert {item["merchantId"]["S"] for item in items} == {"ada-s-shop"}
    assert api_key not in json.dumps(items)
    plan_keys = apigateway.get_usage_plan_keys(usagePlanId=plan_id)["items"]
    assert {key["value"] for key in plan_keys} == {item["usageKey"]["S"] for item in items}


def test_a_merchant_goes_on_the_plan_it_is_given_and_can_be_moved(aws: AwsEnv) -> None:
    # GIVEN a stack with the standard and the large usage plans
    apigateway = boto3.client("apigateway", region_name=REGION)
    standard = apigateway.create_usage_plan(name="merchants")["id"]
    large = apigateway.create_usage_plan(name="large-merchants")["id"]
    stack = _deploy_outputs(aws, standard, large)
    cli = ["--stack", stack, "--region", REGION, "merchants"]
    runner = CliRunner()

    def plan_keys(plan_id: str) -> set[str]:
        items = apigateway.get_usage_plan_keys(usagePlanId=plan_id)["items"]
        return {key["name"] for key in items}

    # WHEN one merchant is created on the large plan and another on the standard one
    big = runner.invoke(app, [*cli, "create", "Big Shop", "--plan", "large"])
    small = runner.invoke(app, [*cli, "create", "Small Shop"])

    # THEN each key is on its plan only
    assert (big.exit_code, small.exit_code) == (0, 0), big.output + small.output
    assert plan_keys(large) == {f"{stack}-big-shop"}
    assert plan_keys(standard) == {f"{stack}-small-shop"}

    # WHEN the small one grows and is moved (by a script)
    moved = runner.invoke(app, [*cli, "set-plan", "small-shop", "large", "--json"])

    # THEN its key is on the large plan and no longer on the standard one
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout) == {"merchantId": "small-shop", "plan": "large"}
    assert plan_keys(large) == {f"{stack}-big-shop", f"{stack}-small-shop"}
    assert plan_keys(standard) == set()
    unknown = runner.invoke(app, [*cli, "set-plan", "nobody", "large"])
    assert unknown.exit_code == 1 and "no merchant nobody" in unknown.output


def test_status_and_dlq_commands_read_the_stack(aws: AwsEnv) -> None:
    stack = _deploy_outputs(aws, "none")
    unknown = "00000000-0000-4000-8000-000000000001"
    aws.sqs.send_message(
        QueueUrl=aws.dlq_url, MessageBody=json.dumps({"paymentId": unknown, "correlationId": "c"})
    )
    runner = CliRunner()

    status = runner.invoke(app, ["--stack", stack, "--region", REGION, "status"])
    listing = runner.invoke(app, ["--stack", stack, "--region", REGION, "dlq", "list"])

    assert status.exit_code == 0, status.output
    assert "dead letters" in status.output
    assert listing.exit_code == 0, listing.output
    assert unknown in listing.output
    assert "no such payment" in listing.output


def test_an_unknown_stack_is_a_clear_error(aws: AwsEnv) -> None:
    result = CliRunner().invoke(app, ["--stack", "nope", "--region", REGION, "status"])

    assert result.exit_code == 2
    assert "cannot read stack nope" in result.output


def _webhook_stack(aws: AwsEnv, clock: FakeClock) -> tuple[str, WebhookWorld]:
    world = webhook_world(aws, clock)
    stack = _deploy_outputs(dataclasses.replace(aws, settings=world.services.settings), "none")
    return stack, world


def _queued(world: WebhookWorld) -> list[dict[str, Any]]:
    return world.aws.queued_bodies(world.services.settings.deliveries_queue_url)


@pytest.mark.usefixtures("public_dns")
def test_webhooks_replay_since_a_time_delivers_each_event_again(
    aws: AwsEnv, clock: FakeClock
) -> None:
    stack, world = _webhook_stack(aws, clock)
    now = int(time.time())
    world.services.webhook_endpoint_service.register(
        "ada", "ada", "https://shop.example.com/hooks", ("payment.accepted",)
    )
    for n, created in enumerate((now - 7200, now - 600, now - 60)):
        event = WebhookEvent("payment.accepted", created, f"p-{n}", "ada", 3, {"status": "A"})
        world.services.events.put_all([(event, json.dumps(event.to_json()))])
    cli = ["--stack", stack, "--region", REGION, "webhooks", "replay"]

    dry = CliRunner().invoke(app, [*cli, "--since", "1h", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would replay 2 deliveries" in dry.output and _queued(world) == []

    done = CliRunner().invoke(app, [*cli, "--since", "1h"])
    assert done.exit_code == 0, done.output
    assert sorted(job["eventId"] for job in _queued(world)) == ["evt_p-1_3", "evt_p-2_3"]
    assert all(job["replay"] and job["attempt"] == 1 for job in _queued(world))

    # Nothing to replay says why
    unknown = CliRunner().invoke(app, [*cli, "--event-id", "evt_nope_1", "--dry-run"])
    assert "no events matched" in unknown.output
    unwanted = CliRunner().invoke(app, [*cli, "--payment-id", "p-0", "--dry-run"])
    assert "1 event(s) matched, but no endpoint" not in unwanted.output  # ada's wants it
    for endpoint in world.services.webhook_endpoints.list("ada"):
        world.services.webhook_endpoints.remove("ada", endpoint.endpoint_id)
    unwanted = CliRunner().invoke(app, [*cli, "--payment-id", "p-0", "--dry-run"])
    assert "1 event(s) matched, but no endpoint of their merchant wants them" in unwanted.output


def test_webhooks_replay_dead_letters_moves_them_back_losslessly(
    aws: AwsEnv, clock: FakeClock
) -> None:
    stack, world = _webhook_stack(aws, clock)
    for n in range(3):
        job = DeliveryJob(f"evt_p-{n}_2", "we_x", "ada", attempt=17, due_at=0)
        world.services.deliveries.dead_letter(job, "3 days of 500s")
    # A message that is no delivery (the worker moves such poison here) does not stop it
    poison = '{"eventId":"evt_x_1","endpointId":"we_x","merchantId":"m","attempt":1e400}'
    world.services.deliveries.dead_letter_unreadable(poison, "not a delivery job")
    cli = ["--stack", stack, "--region", REGION, "webhooks", "replay", "--dead-letters"]

    dry = CliRunner().invoke(app, [*cli, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would replay 3 dead-lettered deliveries" in dry.output
    assert "left 1 message(s) in the DLQ that are not deliveries" in dry.output
    assert aws.queue_depth(world.services.settings.deliveries_dlq_url) == 4
    assert _queued(world) == []

    done = CliRunner().invoke(app, cli)
    assert done.exit_code == 0, done.output
    assert "left 1 message(s) in the DLQ that are not deliveries" in done.output
    (left,) = world.aws.sqs.receive_message(QueueUrl=world.services.settings.deliveries_dlq_url)[
        "Messages"
    ]
    assert left["Body"] == poison
    assert sorted((j["eventId"], j["attempt"]) for j in _queued(world)) == [
        (f"evt_p-{n}_2", 1) for n in range(3)
    ]


@pytest.mark.usefixtures("public_dns")
def test_webhooks_add_only_for_a_merchant_that_exists(aws: AwsEnv, clock: FakeClock) -> None:
    stack, world = _webhook_stack(aws, clock)
    add = ["--stack", stack, "--region", REGION, "webhooks", "add", "https://shop.example.com/h"]

    unknown = CliRunner().invoke(app, [*add, "--merchant-id", "nobody"])
    assert unknown.exit_code == 1
    assert "no merchant nobody" in unknown.output
    assert world.services.webhook_endpoints.list("nobody") == []

    world.services.merchants.create_merchant("ada", "Ada", created_at=0, actor="test")
    known = CliRunner().invoke(app, [*add, "--merchant-id", "ada"])
    assert known.exit_code == 0, known.output
    assert len(world.services.webhook_endpoints.list("ada")) == 1


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["webhooks", "replay", "--since", "99999999999d"], "reaches back 90 days at most"),
        (["webhooks", "replay", "--since", "91d"], "reaches back 90 days at most"),
        (["webhooks", "replay", "--since", "99999999999999"], "is in the future"),
        (["webhooks", "replay", "--since", "soon"], "takes a duration"),
        (["webhooks", "replay", "--payment-id", ""], "--payment-id needs an id"),
        (["webhooks", "replay", "--event-id", " "], "--event-id needs an id"),
        (["events", "list", "--payment-id", ""], "--payment-id needs an id"),
        (["webhooks", "replay", "--since", ""], "takes a duration"),
        (["webhooks", "replay", "--since", "\u00b9\u00b2" * 5], "takes a duration"),
        (["webhooks", "replay", "--since", "9" * 5000], "is in the future"),
        (["webhooks", "replay", "--since", "9" * 5000 + "d"], "takes a duration"),
        (["webhooks", "remove", "", "--merchant-id", "ada"], "is not an endpoint id"),
        (["webhooks", "rotate", "we_x", "--merchant-id", "ada"], "is not an endpoint id"),
    ],
)
def test_unusable_options_are_usage_errors_not_tracebacks(
    aws: AwsEnv, clock: FakeClock, command: list[str], says: str
) -> None:
    stack, world = _webhook_stack(aws, clock)

    result = CliRunner().invoke(app, ["--stack", stack, "--region", REGION, *command])

    assert (result.exit_code, result.exception.__class__) == (2, SystemExit), result.output
    assert says in result.output
    assert _queued(world) == []
