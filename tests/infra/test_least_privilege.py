"""Least privilege that holds: what each function's role allows, checked against what its
code really calls (every path run on moto, every AWS request recorded), and the card key's
capability: no role but the worker's can get card plaintext by any KMS path."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from cli.lambda_emulation import SqsEventSource
from core.bootstrap import Services
from core.domain.payment import AUTHORIZATION_HOLD_SECONDS
from core.domain.webhooks import DeliveryJob
from core.settings import Settings
from handlers import authorizer
from handlers.routes import OPERATION_ROUTES
from tests.conftest import MERCHANT_A, ApiClient, AwsEnv, make_payment_body
from tests.infra.conftest import Synthesized, as_list
from tests.integration.webhook_support import (
    TEST_FAST_LANE_SECONDS,
    Receiver,
    WebhookWorld,
    receiving,
    webhook_world,
)
from tests.integration.worker_support import event_source, reconcile
from tests.support import FakeClock, authorizer_event, lambda_context

# What Lambda's event source mapping does with the publisher's role (not its code).
_STREAM_READS = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
# Batch calls are allowed by their single action's permission.
_IAM_ACTION = {"SendMessageBatch": "SendMessage"}
# A transaction is allowed by the permission of each item's own action, on its table.
_TRANSACTION_ITEM_ACTION = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# KMS operations that give card plaintext, directly or by re-encrypting it under a key
# whose Decrypt the caller may use (a statement's wildcard may cover them).
_PLAINTEXT_PATHS = ("kms:Decrypt", "kms:ReEncryptFrom")


class CallLog:
    """The AWS requests each function made, as (IAM action, resource, through an index)."""

    def __init__(self, settings: Settings) -> None:
        self.calls: defaultdict[str, set[tuple[str, str, bool]]] = defaultdict(set)
        self._names: dict[str, str] = {}
        self.learn(settings)

    def learn(self, settings: Settings) -> None:
        """The resources `settings` name (a test may give itself queues of its own)."""
        self._names |= {
            settings.payments_table: "payments",
            settings.merchants_table: "merchants",
            settings.idempotency_table: "idempotency",
            settings.bank_ledger_table: "bank_ledger",
            settings.bank_control_table: "bank_control",
            settings.card_key_id: "card_key",
            settings.card_keys_table: "card_keys",
            settings.card_digest_key_id: "card_digest_key",
            settings.idempotency_digest_key_id: "idempotency_digest_key",
            settings.cursor_key_id: "cursor_key",
            settings.jobs_queue_url: "jobs",
            settings.events_table: "events",
            settings.webhook_endpoints_table: "webhook_endpoints",
            settings.webhook_secret_key_id: "webhook_secret_key",
            settings.deliveries_queue_url: "deliveries",
            settings.deliveries_dlq_url: "delivery_dead_letters",
            settings.slow_deliveries_queue_url: "slow_deliveries",
        }

    def services(self, function_id: str, aws: AwsEnv, clock: FakeClock) -> Services:
        services = Services(aws.settings, aws.clients(), clock)
        for client in (services.clients.dynamodb, services.clients.kms, services.clients.sqs):

            def record(params: dict[str, Any], model: Any, **_: Any) -> None:
                self._record(function_id, model, params)

            client.meta.events.register("provide-client-params.*.*", record)
        return services

    def _record(self, function_id: str, model: Any, params: dict[str, Any]) -> None:
        service = model.service_model.endpoint_prefix
        if model.name == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, request),) = item.items()
                action = f"{service}:{_TRANSACTION_ITEM_ACTION[kind]}"
                self.calls[function_id].add((action, self._names[request["TableName"]], False))
            return
        action = f"{service}:{_IAM_ACTION.get(model.name, model.name)}"
        named = [
            params.get("TableName"),
            params.get("KeyId"),
            params.get("QueueUrl"),
            *params.get("RequestItems", {}),
        ]
        for name in filter(None, named):
            self.calls[function_id].add((action, self._names[name], "IndexName" in params))


def _referenced(value: Any, ids: dict[str, str]) -> set[tuple[str, bool]]:
    """The resources a statement's Resource names, and whether as their indexes."""
    text = repr(value)
    return {
        (name, "/index/*" in text) for name, logical_id in ids.items() if f"'{logical_id}'" in text
    }


def _allowed(
    statements: list[dict[str, Any]], action: str, resource: str, index: bool, ids: dict[str, str]
) -> bool:
    for statement in statements:
        actions = as_list(statement["Action"])
        resources = as_list(statement["Resource"])
        if statement["Effect"] != "Allow" or not any(fnmatch.fnmatch(action, a) for a in actions):
            continue
        if any((resource, index) in _referenced(each, ids) for each in resources):
            return True
    return False


def _statements_by_function(synth: Synthesized) -> dict[str, list[dict[str, Any]]]:
    roles: dict[str, list[dict[str, Any]]] = defaultdict(list)
    role_of = {
        function.node.id: _role_id(synth, function) for function in synth.stack.functions.all
    }
    for policy in synth.resources("AWS::IAM::Policy").values():
        for function_id, role in role_of.items():
            if {"Ref": role} in policy["Properties"]["Roles"]:
                roles[function_id].extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return roles


def _role_id(synth: Synthesized, function: Any) -> str:
    return str(synth.stack.get_logical_id(function.role.node.default_child))


def _resource_ids(synth: Synthesized) -> dict[str, str]:
    storage, messaging = synth.stack.storage, synth.stack.messaging
    named = {
        "payments": storage.payments,
        "merchants": storage.merchants,
        "idempotency": storage.idempotency,
        "bank_ledger": storage.bank_ledger,
        "bank_control": storage.bank_control,
        "card_key": storage.card_key,
        "card_keys": storage.card_keys,
        "card_digest_key": storage.card_digest_key,
        "idempotency_digest_key": storage.idempotency_digest_key,
        "cursor_key": storage.cursor_key,
        "jobs": messaging.jobs,
        "events": storage.events,
        "webhook_endpoints": storage.webhook_endpoints,
        "webhook_secret_key": storage.webhook_secret_key,
        "deliveries": messaging.deliveries,
        "delivery_dead_letters": messaging.delivery_dead_letters,
        "slow_deliveries": messaging.slow_deliveries,
    }
    return {name: synth.logical_id(construct) for name, construct in named.items()}


def _run_every_path(log: CallLog, aws: AwsEnv, clock: FakeClock) -> None:
    # Webhooks to the test's own receiver on loopback, and deliveries of the test's own
    world = webhook_world(aws, clock)
    aws = dataclasses.replace(aws, settings=world.services.settings)
    log.learn(aws.settings)

    def api(function_id: str) -> ApiClient:
        return ApiClient(log.services(function_id, aws, clock), MERCHANT_A)

    for receiver in receiving(500, 200):
        _run_every_payment_path(log, aws, clock, api)
        _run_every_webhook_path(log, aws, clock, api, world, receiver)


def _run_every_webhook_path(
    log: CallLog,
    aws: AwsEnv,
    clock: FakeClock,
    api: Callable[[str], ApiClient],
    world: WebhookWorld,
    receiver: Receiver,
) -> None:
    url = receiver.url
    # Each with an Idempotency-Key, sent twice: the answer is kept sealed and replayed.
    for _ in range(2):
        created = api("CreateWebhookEndpoint").post(
            "/webhook-endpoints",
            {"merchantId": MERCHANT_A, "url": url},
            headers={"Idempotency-Key": "endpoint-1"},
        )
        assert created.status == 201, created.body
    endpoint_id = created.body["id"]
    assert (
        api("ListWebhookEndpoints").get("/webhook-endpoints", {"merchantId": MERCHANT_A}).status
        == 200
    )
    for _ in range(2):
        rotated = api("RotateWebhookSecret").post(
            "/rotate-webhook-secret",
            {"merchantId": MERCHANT_A, "id": endpoint_id},
            headers={"Idempotency-Key": "rotation-1"},
        )
        assert rotated.status == 200, rotated.body
    # The publisher reads the payments written above from the stream
    world.runners["publisher"] = log.services("EventPublisher", aws, clock)
    world.stream.drain()
    delivery = world.runners["deliverer"] = log.services("WebhookDelivery", aws, clock)
    world.deliver_due()  # 500: retried
    clock.advance(3600)
    world.deliver_due()  # 200
    payment_id = world.services.events.events_of(_any_payment(aws))[0].payment_id
    events = api("ListPaymentEvents").get(
        "/payment-events", {"merchantId": MERCHANT_A, "paymentId": payment_id}
    )
    assert events.status == 200 and events.body["events"], events.body
    # Too slow for the fast lane: the endpoint is marked slow, the delivery sent on in the
    # slow lane
    receiver.delay = TEST_FAST_LANE_SECONDS + 0.1
    event_id = world.services.events.events_of(payment_id)[0].event_id
    resent = DeliveryJob.replayed(event_id, endpoint_id, MERCHANT_A, clock.now(), replay=True)
    world.services.deliveries.publish([resent], clock.now())
    world.deliver_due()
    receiver.delay = 0.0
    removed = api("DeleteWebhookEndpoint").call(
        "DELETE", "/webhook-endpoints", query={"merchantId": MERCHANT_A, "id": endpoint_id}
    )
    assert removed.status == 200, removed.body
    # A delivery given up after its budget goes to the DLQ
    job = DeliveryJob("evt_x_1", endpoint_id, MERCHANT_A, attempt=1, due_at=clock.now())
    delivery.deliveries.dead_letter(job, "test")


def _any_payment(aws: AwsEnv) -> str:
    return str(aws.payment_items()[0]["paymentId"]["S"])


def _run_every_payment_path(
    log: CallLog, aws: AwsEnv, clock: FakeClock, api: Callable[[str], ApiClient]
) -> None:

    setup = Services(aws.settings, aws.clients(), clock)
    issued = setup.merchants.create_merchant(MERCHANT_A, "Ada", created_at=0, actor="test")
    key = {"Authorization": f"Bearer {issued.api_key}"}
    authorizer.handle(
        authorizer_event(key), lambda_context(), log.services("Authorizer", aws, clock)
    )

    ids = []
    for n in range(3):
        created = api("CreatePayment").post(
            "/create-payment", {"merchantId": MERCHANT_A}, headers={"Idempotency-Key": f"c{n}"}
        )
        assert created.status == 201, created.body
        ids.append(str(created.body["paymentId"]))
    for payment_id, amount in zip(ids, (1250, 24, 1250), strict=True):
        response = api("MakePayment").post(
            "/make-payment",
            make_payment_body(payment_id, amount=amount),
            headers={"Idempotency-Key": f"key-{payment_id}"},
        )
        assert response.status == 202, response.body
    aws.sqs.receive_message(QueueUrl=aws.settings.jobs_queue_url, MaxNumberOfMessages=1)
    worker = log.services("Worker", aws, clock)
    event_source(aws, worker).drain()
    held = _run_every_operation_path(api, event_source(aws, worker))
    api("GetPayment").get_payment(ids[0])
    listing = api("ListPayments")
    first = listing.get("/list-payments", {"merchantId": MERCHANT_A, "limit": "1"})
    listing.get(
        "/list-payments",
        {"merchantId": MERCHANT_A, "limit": "1", "cursor": first.body["nextCursor"]},
    )
    # The reconciler: the job received above was lost; later, one is settled at its bound
    clock.advance(aws.settings.reconcile_after_seconds + 1)
    reconcile(log.services("Reconciler", aws, clock))
    clock.advance(aws.settings.resolve_after_seconds)
    reconcile(log.services("Reconciler", aws, clock))
    # An authorization held past its hold: the reconciler voids it, the worker tells the bank
    clock.advance(AUTHORIZATION_HOLD_SECONDS)
    reconcile(log.services("Reconciler", aws, clock))
    event_source(aws, worker).drain()
    assert api("GetPayment").get_payment(held).body["status"] == "Voided"


def _run_every_operation_path(api: Callable[[str], ApiClient], worker: SqsEventSource) -> str:
    """Three authorizations: one captured in part then refunded (with an Idempotency-Key,
    sent twice; and a refund the bank declines), one voided, one left held (its id)."""

    def ask(function_id: str, path: str, payment_id: str, key: str = "", **fields: Any) -> None:
        body = {"merchantId": MERCHANT_A, "paymentId": payment_id, **fields}
        headers = {"Idempotency-Key": key} if key else {}
        response = api(function_id).post(path, body, headers=headers)
        assert response.status == 202, response.body

    authorized = []
    for _ in range(3):
        payment_id = api("CreatePayment").create_payment()
        body = make_payment_body(payment_id) | {"captureMethod": "manual"}
        assert api("MakePayment").post("/make-payment", body).status == 202
        authorized.append(payment_id)
    worker.drain()
    captured, voided, held = authorized
    ask("CapturePayment", "/capture-payment", captured, key=f"capture-{captured}", amount=1000)
    ask("VoidPayment", "/void-payment", voided, key=f"void-{voided}")
    worker.drain()
    for _ in range(2):
        ask("RefundPayment", "/refund-payment", captured, key=f"refund-{captured}", amount=300)
    ask("RefundPayment", "/refund-payment", captured, amount=3)
    worker.drain()
    view = api("GetPayment").get_payment(captured).body
    assert [r["status"] for r in view["refunds"]] == ["Succeeded", "Failed"], view
    assert api("GetPayment").get_payment(voided).body["status"] == "Voided"
    return held


def test_every_call_each_function_makes_is_allowed_by_its_role_and_no_more_tables(
    synth: Synthesized, aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN every path of every function run on moto, each request recorded
    log = CallLog(aws.settings)
    _run_every_path(log, aws, clock)
    roles, ids = _statements_by_function(synth), _resource_ids(synth)

    # THEN each call was allowed by the function's role
    refused = [
        (function_id, call)
        for function_id, calls in log.calls.items()
        for call in sorted(calls)
        if not _allowed(roles[function_id], *call, ids)
    ]
    assert refused == []
    assert set(log.calls) == {function.node.id for function in synth.stack.functions.all}
    # AND no role may touch a table its function never called
    for function_id, statements in roles.items():
        used = {resource for _, resource, _ in log.calls[function_id]}
        granted = {
            name
            for statement in statements
            for name, _ in _referenced(statement["Resource"], ids)
            if any(
                str(a).startswith("dynamodb:") and a not in _STREAM_READS
                for a in as_list(statement["Action"])
            )
        }
        assert granted <= used, function_id


_ACCOUNT = "account"
# What no one may do with the card key, the account included: each leads to card plaintext
# (re-encrypting it under a key one can read, granting oneself Decrypt) or makes data keys.
_CARD_KEY_FORBIDDEN = (
    "kms:ReEncryptFrom",
    "kms:CreateGrant",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
)
# What the account keeps on the card key: managing it, never using it.
_ADMINISTRATION = (
    "kms:DescribeKey",
    "kms:PutKeyPolicy",
    "kms:GetKeyPolicy",
    "kms:EnableKeyRotation",
    "kms:CreateAlias",
    "kms:TagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
_USE = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey")


def _allows(statement: dict[str, Any], action: str) -> bool:
    actions = as_list(statement["Action"])
    return statement["Effect"] == "Allow" and any(fnmatch.fnmatch(action, a) for a in actions)


def _iam_statements_by_role(synth: Synthesized) -> dict[str, list[dict[str, Any]]]:
    """Every role of the template, with the statements of its policies, inline or attached."""
    roles: dict[str, list[dict[str, Any]]] = {
        role_id: [
            statement
            for policy in role["Properties"].get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        for role_id, role in synth.resources("AWS::IAM::Role").items()
    }
    for policy in synth.resources("AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            roles[role["Ref"]].extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return roles


def _principals(statement: dict[str, Any]) -> set[str]:
    """The roles a key policy statement names by ARN, or the account (its root)."""
    named = set()
    for principal in as_list(statement["Principal"].get("AWS", [])):
        if ":root" in repr(principal):
            named.add(_ACCOUNT)
        else:
            named.add(principal["Fn::GetAtt"][0])
    return named


def _may_use(synth: Synthesized, key: Any, action: str) -> set[str]:
    """The roles KMS lets call `action` on `key`: those its key policy names, and, only where
    the key policy allows the account (its root) `action`, those whose IAM policies allow it.
    Conditions are left out: a role that may under some condition counts."""
    key_id = synth.logical_id(key)
    key_policy = synth.resources("AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]
    allowing = [s for s in key_policy["Statement"] if _allows(s, action)]
    named = {principal for s in allowing for principal in _principals(s)}
    if _ACCOUNT not in named:
        return named
    return (named - {_ACCOUNT}) | {
        role_id
        for role_id, statements in _iam_statements_by_role(synth).items()
        if any(
            _allows(s, action)
            and (f"'{key_id}'" in repr(s["Resource"]) or "*" in as_list(s["Resource"]))
            for s in statements
        )
    }


def _principals_allowed(synth: Synthesized, key: Any, action: str) -> set[str]:
    key_policy = synth.resources("AWS::KMS::Key")[synth.logical_id(key)]["Properties"]
    return {
        p
        for s in key_policy["KeyPolicy"]["Statement"]
        if _allows(s, action)
        for p in _principals(s)
    }


def test_only_the_worker_can_get_card_plaintext_and_the_account_only_administers_the_key(
    synth_each: Synthesized,
) -> None:
    # GIVEN the card key's policy and every role's IAM policies, as KMS evaluates them
    synth = synth_each
    card_key, functions = synth.stack.storage.card_key, synth.stack.functions

    # THEN the worker alone may decrypt, make-payment encrypt (and the worker wrap a key
    # pair's private key), and no one, the account included, may re-encrypt card
    # ciphertext, grant Decrypt or make data keys with it
    worker, make_payment = (
        _role_id(synth, functions.worker),
        _role_id(synth, functions.make_payment),
    )
    assert _may_use(synth, card_key, "kms:Decrypt") == {worker}
    assert _may_use(synth, card_key, "kms:Encrypt") == {make_payment, worker}
    for action in _CARD_KEY_FORBIDDEN:
        assert _may_use(synth, card_key, action) == set(), action
    # AND the account keeps the key's administration, through IAM, and none of its use
    for action in _ADMINISTRATION:
        assert _ACCOUNT in _principals_allowed(synth, card_key, action), action
    for action in _USE:
        assert _ACCOUNT not in _principals_allowed(synth, card_key, action), action
    # AND each use only with a payment's encryption context, or, for the worker alone, a
    # key pair's (its epoch)
    key_policy = synth.resources("AWS::KMS::Key")[synth.logical_id(card_key)]["Properties"]
    uses = [s for s in key_policy["KeyPolicy"]["Statement"] if _ACCOUNT not in _principals(s)]
    assert len(uses) == 4
    for statement in uses:
        keys = statement["Condition"]["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"]
        assert keys in (["merchantId", "paymentId"], ["cardKeyEpoch"])
        assert statement["Condition"]["Null"] == {
            f"kms:EncryptionContext:{key}": "false" for key in keys
        }
        if keys == ["cardKeyEpoch"]:
            assert _principals(statement) == {worker}


def test_no_role_may_reencrypt_nor_decrypt_with_every_key(synth_each: Synthesized) -> None:
    # GIVEN every role's IAM policies
    for role_id, statements in _iam_statements_by_role(synth_each).items():
        for statement in statements:
            actions = as_list(statement["Action"])
            # THEN none may re-encrypt (move ciphertext under a key it can read)
            assert not any(str(a).startswith("kms:Re") for a in actions), role_id
            # AND none may decrypt with any key ("*"): each names the keys it uses
            if _allows(statement, "kms:Decrypt"):
                assert "*" not in as_list(statement["Resource"]), role_id


def test_every_grant_on_a_table_or_queue_key_is_only_through_its_service(
    synth_each: Synthesized,
) -> None:
    # GIVEN the keys of the tables and the queues, and the statements naming them (CDK's
    # generated grants included: the event sources' on the stream and the queues)
    synth = synth_each
    functions = synth.stack.functions
    fed_by = [
        (synth.stack.storage.table_key, [functions.event_publisher]),
        (synth.stack.messaging.queue_key, [functions.worker, functions.webhook_delivery]),
    ]
    roles = _iam_statements_by_role(synth)
    for key, fed in fed_by:
        key_id = synth.logical_id(key)
        granted = {
            role_id: [s for s in statements if f"'{key_id}'" in repr(s["Resource"])]
            for role_id, statements in roles.items()
        }
        # THEN each only when the key's own service uses it on the role's behalf
        for role_id, statements in granted.items():
            for statement in statements:
                assert statement.get("Condition") == {
                    "StringEquals": {"kms:ViaService": synth.stack.resolve(key.endpoint)}
                }, (role_id, statement)
        # AND the functions fed from them can still read what they are fed
        readers = {
            role_id
            for role_id, statements in granted.items()
            if any(_allows(statement, "kms:Decrypt") for statement in statements)
        }
        assert {_role_id(synth, function) for function in fed} <= readers


def test_only_the_delivery_worker_can_decrypt_webhook_secrets(synth: Synthesized) -> None:
    secret_key = synth.logical_id(synth.stack.storage.webhook_secret_key)
    decrypting, encrypting, opening_answers = set(), set(), set()
    for resource in synth.resources("AWS::IAM::Policy").values():
        roles = {role["Ref"] for role in resource["Properties"]["Roles"]}
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if (
                f"'{secret_key}'" not in repr(statement["Resource"])
                and statement["Resource"] != "*"
            ):
                continue
            actions = as_list(statement["Action"])
            if any(fnmatch.fnmatch(p, a) for a in actions for p in _PLAINTEXT_PATHS):
                context_keys = statement["Condition"]["ForAllValues:StringEquals"]
                # Only with every key of one context present, and no other key: an
                # endpoint's secret, or an answer kept sealed for an Idempotency-Key replay.
                if context_keys["kms:EncryptionContextKeys"] == ["endpointId", "merchantId"]:
                    decrypting |= roles
                else:
                    assert context_keys["kms:EncryptionContextKeys"] == [
                        "merchantId",
                        "sealedAnswerOf",
                    ]
                    opening_answers |= roles
                keys = context_keys["kms:EncryptionContextKeys"]
                assert statement["Condition"]["Null"] == {
                    f"kms:EncryptionContext:{key}": "false" for key in keys
                }
            if "kms:Encrypt" in actions:
                encrypting |= roles
    functions = synth.stack.functions
    routes = {route.construct_id: fn for route, fn in functions.for_route.items()}
    issuing = {
        _role_id(synth, routes["CreateWebhookEndpoint"]),
        _role_id(synth, routes["RotateWebhookSecret"]),
    }
    assert decrypting == {_role_id(synth, functions.webhook_delivery)}
    assert encrypting == opening_answers == issuing


def _granted(synth: Synthesized, function: Any) -> set[tuple[str, str]]:
    """(action, resource) for each statement of the function's role; a key usable only
    through a service reads "<key> via <service>"."""
    storage, messaging = synth.stack.storage, synth.stack.messaging
    names = {logical_id: name for name, logical_id in _resource_ids(synth).items()} | {
        synth.logical_id(storage.table_key): "table_key",
        synth.logical_id(messaging.queue_key): "queue_key",
        synth.logical_id(function.log_group): "its own log group",
    }
    granted = set()
    for statement in _statements_by_function(synth)[function.node.id]:
        via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        # "sqs.<Region>.amazonaws.com", the Region a token unless the stage pins it
        service = (via if isinstance(via, str) else str(via["Fn::Join"][1][0])) if via else ""
        for resource in as_list(statement["Resource"]):
            name = "*" if resource == "*" else names[resource["Fn::GetAtt"][0]]
            if service:
                name += " via " + service.split(".")[0]
            granted |= {(str(action), name) for action in as_list(statement["Action"])}
    return granted


def test_capture_void_and_refund_only_record_on_the_payment_and_queue_its_job(
    synth_each: Synthesized,
) -> None:
    # GIVEN the roles of the functions of the three operations
    functions = synth_each.stack.functions
    operations = [functions.for_route[route] for route in OPERATION_ROUTES]

    # THEN each may read and write the payment (its conditional PutItem on the version read),
    # keep an Idempotency-Key's answer, and queue the payment's job: nothing else, no card
    # key, no events or webhook tables
    expected = {
        ("logs:CreateLogStream", "its own log group"),
        ("logs:PutLogEvents", "its own log group"),
        ("xray:PutTraceSegments", "*"),
        ("xray:PutTelemetryRecords", "*"),
        ("dynamodb:GetItem", "payments"),
        ("dynamodb:PutItem", "payments"),
        *(
            (f"dynamodb:{action}", "idempotency")
            for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
        ),
        ("kms:GenerateMac", "idempotency_digest_key"),
        *(
            (action, "table_key via dynamodb")
            for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey")
        ),
        ("sqs:SendMessage", "jobs"),
        ("kms:GenerateDataKey", "queue_key via sqs"),
        ("kms:Decrypt", "queue_key via sqs"),
    }
    for function in operations:
        assert _granted(synth_each, function) == expected, function.node.id
