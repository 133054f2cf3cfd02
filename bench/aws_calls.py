"""AWS requests per payment over one full lifecycle, counted at botocore, in moto.

Counted: the calls paygate's own code makes (create, make, worker to final, one get).
Reported apart: the simulated bank's ledger and switches (a real bank is not on our AWS
bill) and the authorizer's merchant lookup (API Gateway caches it for 5 minutes per key).
SQS receive/delete are Lambda's event source mapping's, not our code's: not counted here.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from moto import mock_aws

from bench.moto_env import REGION, provisioned_settings
from bench.payloads import make_payment_body
from cli.lambda_emulation import (
    ApiStage,
    api_gateway_event,
    authorizer_event,
    lambda_context,
    sqs_lambda_event,
)
from core.bootstrap import AwsClients, Services
from core.domain.clock import SystemClock
from handlers import authorizer, create_payment, get_payment, make_payment
from workers import payment_worker

TARGET_CALLS = 8
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
        for client in (services.clients.dynamodb, services.clients.sqs, services.clients.kms):
            client.meta.events.register("before-parameter-build.*.*", self._count)

    def phase(self, name: str) -> None:
        self._phase = name

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        table = params.get("TableName") or next(iter(params.get("RequestItems", {})), None)
        if table in self._bank_tables:
            bucket = "bank simulator"
        elif table == self._merchants and self._phase != "setup":
            bucket = "authorizer"
        else:
            bucket = self._phase
        self.calls[f"{bucket}|{service}:{model.name}"] += 1


BENCH_STAGE = ApiStage(api_id="bench", stage="bench")


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


def _lifecycle(services: Services, counter: CallCounter, amount: int) -> str:
    key = services.merchants.create_merchant(
        f"bench-{amount}", "Bench", created_at=0, actor="bench"
    ).api_key
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
    sqs = services.clients.sqs
    queue = services.settings.jobs_queue_url
    while True:
        counter.phase("event source (not ours)")
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        counter.phase("worker")
        payment_worker.handle(
            sqs_lambda_event(messages, "arn:jobs", REGION), lambda_context("w"), services
        )
        counter.phase("event source (not ours)")
        for message in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    counter.phase("get")
    get_payment.handle(
        api_event("GET", "/get-payment", query={"merchantId": "bench", "paymentId": payment_id}),
        lambda_context("g"),
        services,
    )
    return payment_id


def _summarize(calls: Counter[str]) -> dict[str, Any]:
    by_phase: dict[str, dict[str, int]] = {}
    for key, count in calls.items():
        phase, operation = key.split("|")
        by_phase.setdefault(phase, {})[operation] = count
    excluded = {"bank simulator", "authorizer", "event source (not ours)", "setup"}
    ours = sum(sum(ops.values()) for phase, ops in by_phase.items() if phase not in excluded)
    return {"per_payment": ours, "by_phase": by_phase}


def monthly_cost(summary: dict[str, Any], payments: int = 1_000_000) -> dict[str, float]:
    """Rough monthly cost of `payments` payments: requests by service, 3 API calls each
    (create, make, one get), 256 MB API functions at ~50 ms and a 512 MB worker at ~100 ms a
    record in batches of 10. Writes and reads of items under 1 KB: 1 unit each, plus one
    write per GSI the item is in (byMerchant always, inFlight while in flight)."""
    ops: Counter[str] = Counter()
    for phase, operations in summary["by_phase"].items():
        if phase in ("bank simulator", "authorizer", "setup"):
            continue
        ops.update(operations)
    writes = ops["dynamodb:PutItem"] + ops["dynamodb:UpdateItem"]
    reads = ops["dynamodb:GetItem"] + ops["dynamodb:Query"]
    write_units = writes * 2 + ops["dynamodb:UpdateItem"]
    sqs = sum(count for op, count in ops.items() if op.startswith("sqs:"))
    kms = sum(count for op, count in ops.items() if op.startswith("kms:"))
    millions = payments / 1_000_000
    api_calls = 3
    lambda_invocations = api_calls + 0.1
    gb_seconds = api_calls * 0.256 * 0.05 + 0.512 * 0.1
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


def measure() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for label, amount in (("accepted", 1250), ("pending_then_accepted", 24)):
        with mock_aws():
            settings = provisioned_settings().replace(recheck_base_seconds=0)
            services = Services(settings, AwsClients(settings), SystemClock())
            counter = CallCounter(services)
            _lifecycle(services, counter, amount)
            results[label] = _summarize(counter.calls)
    results["target"] = TARGET_CALLS
    results["monthly_cost_per_million_payments"] = monthly_cost(results["accepted"])
    results["prices"] = PRICES
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
