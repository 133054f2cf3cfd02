"""AWS requests per payment over one full lifecycle, counted at botocore, in moto; and per
refund of an accepted payment, end to end.

Counted: the calls paygate's own code makes (create, make, worker to final, the event
publisher on the payments stream, one get), and with a webhook endpoint registered, the
delivery worker's (one delivery per event, to a real HTTP receiver on loopback). A refund:
refund-payment with an Idempotency-Key, the worker asking the bank, the publisher on the
stream, one get.
Reported apart: the simulated bank's ledger and switches (a real bank is not on our AWS
bill), the authorizer's merchant lookup (API Gateway caches it for 5 minutes per key) and
what a function instance does once (a day): the digest keys' derivation, make-payment's
read of the day's card public key, the worker's read and KMS unwrap of its private key,
the delivery worker's KMS decrypt of an endpoint's secret, and the publisher's read of a
merchant's endpoints (once a minute per merchant: nothing per payment at a peak).
The publisher writes a stream batch's events together (25 a request) and queues their
jobs together (10 a request); here each batch holds one record, so each event costs a
request of each: at a peak, with full batches, a small fraction of one.
SQS receive/delete are Lambda's event source mapping's, not our code's: not counted here.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from moto import mock_aws

from bench.moto_env import REGION, provisioned_settings, quiet, webhook_receiver
from bench.payloads import make_payment_body
from cli.lambda_emulation import (
    ApiStage,
    DynamoStreamEventSource,
    api_gateway_event,
    authorizer_event,
    lambda_context,
    sqs_lambda_event,
)
from core.adapters.derived_digests import DERIVATION_PREFIX
from core.adapters.kms_card_vault import EPOCH_CONTEXT_KEY
from core.bootstrap import AwsClients, Services
from core.domain.clock import SystemClock
from handlers import authorizer, create_payment, get_payment, make_payment, payment_operations
from infra.functions import WEBHOOK_DELIVERY
from workers import event_publisher, payment_worker, webhook_delivery

TARGET_CALLS = 8
TARGET_CALLS_WITH_AN_ENDPOINT = 16
# KMS requests per payment in steady state (what an instance asks once a day is not per
# payment), and the monthly cost of a million payments without an endpoint (USD).
TARGET_KMS_PER_PAYMENT = 0.01
TARGET_COST_PER_MILLION = 22.0
# us-east-1 on-demand list prices (USD) as published in 2026-11; check the pricing pages.
PRICES = {
    "api_gateway_rest_per_million": 3.50,
    "lambda_requests_per_million": 0.20,
    "lambda_arm_gb_second": 0.0000133334,
    "dynamodb_write_units_per_million": 0.625,
    "dynamodb_read_units_per_million": 0.125,
    "sqs_requests_per_million": 0.40,
    "kms_requests_per_10k": 0.03,
}


class CallCounter:
    def __init__(self, services: Services) -> None:
        self.calls: Counter[str] = Counter()
        self._phase = "setup"
        self._bank_tables = {
            services.settings.bank_ledger_table,
            services.settings.bank_control_table,
        }
        self._merchants = services.settings.merchants_table
        self._card_keys = services.settings.card_keys_table
        self._endpoints = services.settings.webhook_endpoints_table
        for client in (services.clients.dynamodb, services.clients.sqs, services.clients.kms):
            client.meta.events.register("before-parameter-build.*.*", self._count)

    def phase(self, name: str) -> None:
        self._phase = name

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        table = params.get("TableName") or next(iter(params.get("RequestItems", {})), None)
        if table in self._bank_tables:
            bucket = "bank simulator"
        elif self._phase != "setup" and (
            _derives_a_key(params)
            or table == self._card_keys
            or _kept_by_the_instance(params)
            or (table == self._endpoints and self._phase == "event publisher")
        ):
            bucket = ONCE_PER_INSTANCE
        elif table == self._merchants and self._phase != "setup":
            bucket = "authorizer"
        else:
            bucket = self._phase
        self.calls[f"{bucket}|{service}:{model.name}"] += 1
        if model.name == "BatchWriteItem":
            # What DynamoDB bills: each item written, however many a request carries.
            written = sum(len(requests) for requests in params["RequestItems"].values())
            self.calls[f"{bucket}|{BATCH_WRITTEN_ITEMS}"] += written


def _derives_a_key(params: dict[str, Any]) -> bool:
    """A GenerateMac that derives a function instance's key (derived_digests.py): once."""
    return bytes(params.get("Message") or b"").startswith(DERIVATION_PREFIX)


def _kept_by_the_instance(params: dict[str, Any]) -> bool:
    """A KMS Decrypt an instance keeps the answer of: a card key pair's private key (once
    per day and worker instance, core/adapters/hpke_card_vault.py), or an endpoint's
    signing secret (once per delivery instance, KmsSecretVault)."""
    context = params.get("EncryptionContext") or {}
    return EPOCH_CONTEXT_KEY in context or "endpointId" in context


# Not a request: the items the BatchWriteItem requests of a phase carried (for the cost).
BATCH_WRITTEN_ITEMS = "items written in batches"

BENCH_STAGE = ApiStage(api_id="bench", stage="bench")
ONCE_PER_INSTANCE = "once per instance"
# Neither paygate's per request nor on our AWS bill per request.
_NOT_COUNTED = {
    "bank simulator",
    "authorizer",
    "event source (not ours)",
    "setup",
    ONCE_PER_INSTANCE,
}
REFUND_AMOUNT = 500


def api_event(
    method: str,
    path: str,
    body: Any = None,
    query: Any = None,
    *,
    merchant_id: str = "bench",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway event for `merchant_id` as the authorizer lets it through."""
    return api_gateway_event(
        BENCH_STAGE,
        method,
        path,
        request_id="bench",
        headers={"Content-Type": "application/json", **(headers or {})},
        query=query,
        body=json.dumps(body) if body is not None else None,
        authorizer_context={"merchantId": merchant_id},
    )


def _lifecycle(
    services: Services, counter: CallCounter, amount: int, webhook_url: str | None = None
) -> tuple[str, DynamoStreamEventSource]:
    """A payment to its final status and one get; its id, and the publisher on the stream."""
    key = services.merchants.create_merchant(
        f"bench-{amount}", "Bench", created_at=0, actor="bench"
    ).api_key
    if webhook_url:
        services.webhook_endpoint_service.register("bench", "bench", webhook_url, ())
    # A stack in steady state: the worker made the day's card key pair the day before.
    services.card_key_upkeep.run()
    # The publisher runs for every payment, endpoints or not (events are its history).
    table = services.clients.dynamodb.describe_table(TableName=services.settings.payments_table)
    events = DynamoStreamEventSource(
        services.clients.streams,
        table["Table"]["LatestStreamArn"],
        lambda event, context: event_publisher.handle(event, context, services),
        from_now=True,
    )
    counter.phase("authorizer")
    event = authorizer_event(
        BENCH_STAGE,
        "POST",
        "/create-payment",
        request_id="bench",
        headers={"Authorization": f"Bearer {key}"},
    )
    authorizer.handle(event, lambda_context("authorizer"), services)
    counter.phase("create")
    created = create_payment.handle(
        api_event("POST", "/create-payment", {"merchantId": "bench"}),
        lambda_context("c"),
        services,
    )
    payment_id = str(json.loads(created["body"])["paymentId"])
    counter.phase("make")
    make_payment.handle(
        api_event("POST", "/make-payment", make_payment_body(payment_id, "bench", amount)),
        lambda_context("m"),
        services,
    )
    _drain(services, counter, services.settings.jobs_queue_url, "worker")
    counter.phase("event publisher")
    events.drain()
    if webhook_url:
        _drain(services, counter, services.settings.deliveries_queue_url, "webhook delivery")
    counter.phase("get")
    get_payment.handle(
        api_event("GET", "/get-payment", query={"merchantId": "bench", "paymentId": payment_id}),
        lambda_context("g"),
        services,
    )
    return payment_id, events


def _refund(
    services: Services,
    counter: CallCounter,
    payment_id: str,
    events: DynamoStreamEventSource,
) -> None:
    """A refund of part of an accepted payment, end to end: asked for (with an
    Idempotency-Key), the worker asking the bank, the publisher, one get to see it."""
    counter.phase("refund")
    body = {"merchantId": "bench", "paymentId": payment_id, "amount": REFUND_AMOUNT}
    asked = payment_operations.handle(
        api_event("POST", "/refund-payment", body, headers={"Idempotency-Key": "bench-refund"}),
        lambda_context("r"),
        services,
    )
    if asked["statusCode"] != 202:
        raise RuntimeError(f"refund-payment answered {asked['statusCode']}: {asked['body']}")
    _drain(services, counter, services.settings.jobs_queue_url, "worker")
    counter.phase("event publisher")
    events.drain()
    counter.phase("get")
    seen = get_payment.handle(
        api_event("GET", "/get-payment", query={"merchantId": "bench", "paymentId": payment_id}),
        lambda_context("g"),
        services,
    )
    if json.loads(seen["body"]).get("refundedAmount") != REFUND_AMOUNT:
        raise RuntimeError(f"the refund did not succeed: {seen['body']}")


def _drain(services: Services, counter: CallCounter, queue: str, phase: str) -> None:
    """What Lambda's event source does with a queue (not counted as ours), and the
    function's handling of each batch (counted under `phase`)."""
    handlers = {"worker": payment_worker.handle, "webhook delivery": webhook_delivery.handle}
    sqs = services.clients.sqs
    while True:
        counter.phase("event source (not ours)")
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        counter.phase(phase)
        handlers[phase](
            sqs_lambda_event(messages, "arn:queue", REGION), lambda_context(phase), services
        )
        counter.phase("event source (not ours)")
        for message in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def _kms_per_payment(summary: dict[str, Any]) -> int:
    return sum(
        count
        for phase, operations in summary["by_phase"].items()
        if phase not in _NOT_COUNTED
        for operation, count in operations.items()
        if operation.startswith("kms:")
    )


def _summarize(calls: Counter[str], per: str = "per_payment") -> dict[str, Any]:
    by_phase: dict[str, dict[str, int]] = {}
    for key, count in calls.items():
        phase, operation = key.split("|")
        by_phase.setdefault(phase, {})[operation] = count
    ours = sum(
        count
        for phase, ops in by_phase.items()
        if phase not in _NOT_COUNTED
        for operation, count in ops.items()
        if operation != BATCH_WRITTEN_ITEMS
    )
    return {per: ours, "by_phase": by_phase}


# Lambda invocations a payment causes: the API's three, its share of a worker batch of 10,
# and of the publisher's stream batches (its two events, about 10 records a batch).
INVOCATIONS = 3 + 0.1 + 0.2
# With one endpoint, the delivery worker's batches of 10 for its two events, a batch's
# sends at once: about 0.1 s of its own and the merchant's answer (assumed 0.3 s, as the
# capacity model does) at the function's memory.
WEBHOOK_INVOCATIONS = 0.2
WEBHOOK_GB_SECONDS = WEBHOOK_INVOCATIONS * WEBHOOK_DELIVERY.memory_mb / 1024 * (0.1 + 0.3)
# A refund: refund-payment and one get, the worker's share of a batch of 10, the publisher's
# of its stream batches (the refund asked and answered, about 10 records a batch).
REFUND_API_CALLS = 2
REFUND_INVOCATIONS = REFUND_API_CALLS + 0.1 + 0.2


def monthly_cost(
    summary: dict[str, Any],
    payments: int = 1_000_000,
    functions_per_payment: float = INVOCATIONS,
    extra_gb_seconds: float = 0.0,
    api_calls: int = 3,
) -> dict[str, float]:
    """Rough monthly cost of `payments` payments (or refunds): requests by service,
    `api_calls` API calls each (a payment's create, make, one get), 256 MB API functions at
    ~50 ms and a 512 MB worker at ~100 ms a record in batches of 10. Writes and reads of
    items under 1 KB: 1 unit each, plus one write per GSI the item is in (byMerchant
    always, inFlight while in flight)."""
    ops: Counter[str] = Counter()
    for phase, operations in summary["by_phase"].items():
        if phase in ("bank simulator", "authorizer", "setup", ONCE_PER_INSTANCE):
            continue
        ops.update(operations)
    writes = ops["dynamodb:PutItem"] + ops["dynamodb:UpdateItem"] + ops[BATCH_WRITTEN_ITEMS]
    reads = ops["dynamodb:GetItem"] + ops["dynamodb:Query"]
    write_units = writes * 2 + ops["dynamodb:UpdateItem"]
    sqs = sum(count for op, count in ops.items() if op.startswith("sqs:"))
    kms = sum(count for op, count in ops.items() if op.startswith("kms:"))
    millions = payments / 1_000_000
    # The API's three, the worker's share of a batch of 10; with a webhook, the publisher's
    # share of a stream batch and the delivery worker's of its batches of 10.
    lambda_invocations = functions_per_payment
    gb_seconds = api_calls * 0.256 * 0.05 + 0.512 * 0.1 + extra_gb_seconds
    cost = {
        "api_gateway": api_calls * millions * PRICES["api_gateway_rest_per_million"],
        "lambda": millions
        * (
            lambda_invocations * PRICES["lambda_requests_per_million"]
            + gb_seconds * 1_000_000 * PRICES["lambda_arm_gb_second"]
        ),
        "dynamodb": millions
        * (
            write_units * PRICES["dynamodb_write_units_per_million"]
            + reads * PRICES["dynamodb_read_units_per_million"]
        ),
        "sqs": millions * sqs * PRICES["sqs_requests_per_million"],
        "kms": payments * kms / 10_000 * PRICES["kms_requests_per_10k"],
    }
    cost["total"] = sum(cost.values())
    return {name: round(value, 2) for name, value in cost.items()}


def _moto_services() -> Services:
    """paygate on a fresh moto (inside the active `mock_aws()`)."""
    settings = provisioned_settings().replace(recheck_base_seconds=0, webhooks_allow_loopback=1)
    return Services(settings, AwsClients(settings), SystemClock())


def measure() -> dict[str, Any]:
    results: dict[str, Any] = {}
    variants = (
        ("accepted", 1250, False),
        ("pending_then_accepted", 24, False),
        ("accepted_with_a_webhook", 1250, True),
    )
    with quiet(), webhook_receiver() as receiver:
        url = receiver.url
        for label, amount, webhook in variants:
            with mock_aws():
                services = _moto_services()
                counter = CallCounter(services)
                _lifecycle(services, counter, amount, url if webhook else None)
                results[label] = _summarize(counter.calls)
        with mock_aws():
            services = _moto_services()
            counter = CallCounter(services)
            payment_id, events = _lifecycle(services, counter, 1250)
            counter.calls.clear()
            _refund(services, counter, payment_id, events)
            results["refund"] = _summarize(counter.calls, per="per_refund")
    results["target"] = TARGET_CALLS
    results["target_with_an_endpoint"] = TARGET_CALLS_WITH_AN_ENDPOINT
    results["kms_per_payment"] = _kms_per_payment(results["accepted"])
    results["target_kms_per_payment"] = TARGET_KMS_PER_PAYMENT
    results["target_cost_per_million"] = TARGET_COST_PER_MILLION
    results["monthly_cost_per_million_payments"] = monthly_cost(results["accepted"])
    results["monthly_cost_per_million_payments_with_a_webhook"] = monthly_cost(
        results["accepted_with_a_webhook"],
        functions_per_payment=INVOCATIONS + WEBHOOK_INVOCATIONS,
        extra_gb_seconds=WEBHOOK_GB_SECONDS,
    )
    results["monthly_cost_per_million_refunds"] = monthly_cost(
        results["refund"], functions_per_payment=REFUND_INVOCATIONS, api_calls=REFUND_API_CALLS
    )
    results["prices"] = PRICES
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
