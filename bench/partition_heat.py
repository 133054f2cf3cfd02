"""Partition heat, measured: run a peak-day merchant mix through paygate in-process on moto
and record every DynamoDB request at botocore, with the item before and after each write,
to find the units each partition key of each table and index takes per payment.

The mix (issue #12): one merchant sends half of all payments, the rest are spread over
1,000 merchants by Zipf's law; 5% of payments go through the bank's Pending path; each
payment is created, submitted (with an Idempotency-Key), processed by the worker in
batches of 10 to its final status and polled twice (once in flight, once final). Then
(issue #27) a share of the accepted payments is refunded in part: refund-payment (with an
Idempotency-Key), the worker asking the bank, one poll to see the refund. Every merchant has
one webhook endpoint (issue #28): the event publisher reads the payments stream, the
delivery worker sends each event to a receiver on loopback (a process of its own).

Each function's CPU is measured apart from moto's (bench/moto_env.py MotoCpu): the process's
CPU time while only that function runs, less what moto spent answering its requests.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import re
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

from bench.aws_calls import api_event
from bench.capacity_units import (
    Item,
    index_writes,
    item_size,
    key_of,
    read_units,
    table_write_units,
)
from bench.moto_env import (
    REGION,
    MotoCpu,
    count_requests,
    provisioned_settings,
    quiet,
    webhook_receiver,
)
from bench.payloads import make_payment_body
from cli.emulator import faster_table_queries
from cli.lambda_emulation import DynamoStreamEventSource, SqsEventSource, lambda_context
from core.bootstrap import AwsClients, Services
from core.domain.clock import SystemClock
from core.domain.payment import PaymentStatus
from core.resources import (
    DELIVERIES_SOURCE,
    EVENTS_TABLE,
    IDEMPOTENCY_TABLE,
    MERCHANTS_TABLE,
    PAYMENTS_TABLE,
    WEBHOOK_ENDPOINTS_TABLE,
    TableSpec,
)
from core.settings import Settings
from handlers import create_payment, get_payment, make_payment, payment_operations
from workers import event_publisher, payment_worker, webhook_delivery

# DynamoDB's per-partition throughput (Developer Guide, "Best practices for designing and
# using partition keys effectively", read 2026-11): 1,000 WCU/s and 3,000 RCU/s.
PARTITION_WRITE_UNITS = 1000
PARTITION_READ_UNITS = 3000
BIG_MERCHANT = "merchant-big"
OTHER_MERCHANTS = 1000
BIG_MERCHANT_SHARE = 0.5
PENDING_SHARE = 0.05
PENDING_AMOUNT = 24
# Our assumption, not a measured figure: about one card payment in ten refunded (online
# retail; apparel refunds more). The use per payment grows with it, linearly.
REFUND_SHARE = 0.1
ROUND = 100

_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
# Tables keyed by something one payment (or one request) owns: its id, its idempotency key.
_KEYS_OF_ONE_PAYMENT = {
    PAYMENTS_TABLE.logical_name,
    IDEMPOTENCY_TABLE.logical_name,
    EVENTS_TABLE.logical_name,
}
# The functions not behind the API, by the names the mix records them under.
WORKER = "worker"
PUBLISHER = "event-publisher"
DELIVERY = "webhook-delivery"
BACKGROUND = (WORKER, PUBLISHER, DELIVERY)
_EQUALS = re.compile(r"(#?\w+)\s*=\s*(:\w+)")


@dataclass
class _Call:
    operation: str
    params: dict[str, Any]
    befores: list[tuple[TableSpec, str, dict[str, Any], Item | None, bool]] = field(
        default_factory=list
    )


class HeatRecorder:
    """Adds up, per (table or index, partition key), the write and read units of every
    DynamoDB request made through `client` to the tables in `tables` (physical name to
    spec). Reads the item before and after each write with its own client."""

    def __init__(self, client: Any, tables: dict[str, TableSpec], cpu: MotoCpu) -> None:
        self._cpu = cpu
        self.writes: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.reads: defaultdict[tuple[str, str], float] = defaultdict(float)
        self._tables = tables
        self._shadow = boto3.client("dynamodb", region_name=client.meta.region_name)
        self._local = threading.local()
        self._lock = threading.Lock()
        client.meta.events.register("provide-client-params.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    def _image(self, table: str, key: dict[str, Any]) -> Item | None:
        return self._shadow.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _key(self, spec: TableSpec, params: dict[str, Any]) -> dict[str, Any]:
        source = params.get("Key") or params["Item"]
        names = [spec.partition_key.name] + ([spec.sort_key.name] if spec.sort_key else [])
        return {name: source[name] for name in names}

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._cpu.not_ours():
            self._note(params, model)

    def _note(self, params: dict[str, Any], model: Any) -> None:
        call = _Call(model.name, params)
        writes: list[tuple[str, dict[str, Any], bool]] = []
        if model.name in _WRITES:
            writes.append((params["TableName"], params, False))
        elif model.name == "TransactWriteItems":
            for element in params["TransactItems"]:
                ((_, inner),) = element.items()
                writes.append((inner["TableName"], inner, True))
        elif model.name == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    ((_, inner),) = request.items()
                    writes.append((table, inner, False))
        for table, inner, transactional in writes:
            spec = self._tables.get(table)
            if spec is not None:
                key = self._key(spec, inner)
                call.befores.append((spec, table, key, self._image(table, key), transactional))
        self._local.__dict__.setdefault("calls", []).append(call)

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        with self._cpu.not_ours():
            self._account(parsed)

    def _account(self, parsed: dict[str, Any]) -> None:
        call: _Call = self._local.calls.pop()
        with self._lock:
            for spec, table, key, before, transactional in call.befores:
                self._write(spec, before, self._image(table, key), transactional)
            if call.operation == "GetItem":
                self._get(call.params, parsed)
            elif call.operation == "Query":
                self._query(call.params, parsed)

    def _write(
        self, spec: TableSpec, before: Item | None, after: Item | None, transactional: bool
    ) -> None:
        image = after or before
        if image is None:
            return
        self.writes[(spec.logical_name, key_of(spec, image))] += table_write_units(
            before, after, transactional=transactional
        )
        for index in spec.indexes:
            for key, units in index_writes(spec, index, before, after):
                self.writes[(f"{spec.logical_name}.{index.name}", key)] += units

    def _get(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        spec = self._tables.get(params["TableName"])
        if spec is None:
            return
        size = item_size(parsed.get("Item"))
        consistent = bool(params.get("ConsistentRead"))
        key = key_of(spec, params["Key"])
        self.reads[(spec.logical_name, key)] += read_units(size, consistent=consistent)

    def _query(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        spec = self._tables.get(params["TableName"])
        if spec is None:
            return
        target, partition = spec.logical_name, spec.partition_key.name
        if "IndexName" in params:
            index = next(i for i in spec.indexes if i.name == params["IndexName"])
            target, partition = f"{target}.{index.name}", index.partition_key.name
        names = params.get("ExpressionAttributeNames", {})
        values = params["ExpressionAttributeValues"]
        key = next(
            str(next(iter(values[value].values())))
            for name, value in _EQUALS.findall(params["KeyConditionExpression"])
            if names.get(name, name) == partition
        )
        items = parsed.get("Items", [])
        size = sum(item_size(item) for item in items)
        scanned = parsed.get("ScannedCount", len(items))
        if items and scanned > len(items):
            size = size * scanned // len(items)
        consistent = bool(params.get("ConsistentRead"))
        self.reads[(target, key)] += read_units(size, consistent=consistent)


def merchant_mix(rng: random.Random, payments: int) -> list[str]:
    others = [f"merchant-{rank:04d}" for rank in range(1, OTHER_MERCHANTS + 1)]
    weights = list(itertools.accumulate(1 / rank for rank in range(1, OTHER_MERCHANTS + 1)))
    return [
        BIG_MERCHANT
        if rng.random() < BIG_MERCHANT_SHARE
        else rng.choices(others, cum_weights=weights)[0]
        for _ in range(payments)
    ]


class MixRunner:
    """Runs the mix; keeps each function's invocation times, CPU and records per batch, and
    the KMS and SQS requests made (the capacity model's inputs)."""

    def __init__(self, services: Services, rng: random.Random, cpu: MotoCpu) -> None:
        self._services = services
        self._rng = rng
        self.seconds: defaultdict[str, list[float]] = defaultdict(list)
        self.cpu_seconds: defaultdict[str, float] = defaultdict(float)
        # AWS requests each function made (the bank simulator's among the worker's).
        self.function_requests: Counter[str] = Counter()
        self._running = ""
        self._counting = threading.Lock()
        self.failed_batches: Counter[str] = Counter()
        self.records: defaultdict[str, list[int]] = defaultdict(list)
        self.requests: Counter[str] = Counter()
        self.refunds = 0
        clients = services.clients
        count_requests(self.requests, clients.kms, clients.sqs)
        self._moto = cpu
        for client in (clients.dynamodb, clients.sqs, clients.kms):
            client.meta.events.register("before-call.*.*", self._count_request)
        settings = services.settings
        # Lambda's event sources receive and delete with a client of their own: not counted
        # as the functions' requests (moto's answers to them not as their CPU either).
        lambdas_sqs = boto3.client("sqs", region_name=REGION)
        cpu.watch(lambdas_sqs)
        self._sources = {
            WORKER: SqsEventSource(
                lambdas_sqs, settings.jobs_queue_url, self._timed(WORKER), region=REGION
            ),
            DELIVERY: SqsEventSource(
                lambdas_sqs,
                settings.deliveries_queue_url,
                self._timed(DELIVERY),
                batch_size=DELIVERIES_SOURCE.batch_size,
                region=REGION,
            ),
        }
        stream = clients.dynamodb.describe_table(TableName=settings.payments_table)
        self._stream = DynamoStreamEventSource(
            clients.streams,
            stream["Table"]["LatestStreamArn"],
            self._timed(PUBLISHER),
            from_now=True,
        )

    def _count_request(self, **_: Any) -> None:
        if self._running:
            with self._counting:
                self.function_requests[self._running] += 1

    @contextlib.contextmanager
    def _running_as(self, name: str) -> Iterator[None]:
        self._running = name
        try:
            yield
        finally:
            self._running = ""

    def _timed(self, name: str) -> Any:
        handle = {
            WORKER: payment_worker.handle,
            PUBLISHER: event_publisher.handle,
            DELIVERY: webhook_delivery.handle,
        }[name]

        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            started = time.perf_counter()
            response: dict[str, Any] = handle(event, context, self._services)
            self.seconds[name].append(time.perf_counter() - started)
            self.records[name].append(len(event["Records"]))
            return response

        return invoke

    def _drain(self) -> None:
        """The worker to final, then the publisher on what it wrote, then the deliveries:
        one function at a time, so the process's CPU is that function's (and moto's)."""
        for name in BACKGROUND:
            with self._moto.measure() as cpu, self._running_as(name):
                if name == PUBLISHER:
                    while (polled := self._stream.poll_once()).received:
                        self.failed_batches[name] += polled.failed
                else:
                    self._sources[name].drain(max_polls=10_000)
            self.cpu_seconds[name] += cpu.seconds

    def _call(self, module: Any, method: str, path: str, merchant: str, **kwargs: Any) -> Any:
        event = api_event(method, path, merchant_id=merchant, **kwargs)
        started = time.perf_counter()
        with self._moto.measure() as cpu, self._running_as(path.strip("/")):
            response = module.handle(event, lambda_context(path.strip("/")), self._services)
        self.seconds[path.strip("/")].append(time.perf_counter() - started)
        self.cpu_seconds[path.strip("/")] += cpu.seconds
        if response["statusCode"] >= 300:
            raise RuntimeError(
                f"{method} {path} answered {response['statusCode']}: {response['body']}"
            )
        return json.loads(response["body"])

    def _poll(self, merchant: str, payment_id: str) -> str:
        return str(self._view(merchant, payment_id)["status"])

    def _view(self, merchant: str, payment_id: str) -> dict[str, Any]:
        query = {"merchantId": merchant, "paymentId": payment_id}
        return dict(self._call(get_payment, "GET", "/get-payment", merchant, query=query))

    def _refund(self, accepted: list[tuple[str, str, int]]) -> None:
        """Refunds half of each of `accepted` (merchant, payment, amount), the worker asks
        the bank, each merchant polls once to see its refund."""
        for merchant, payment_id, amount in accepted:
            body = {"merchantId": merchant, "paymentId": payment_id, "amount": amount // 2}
            headers = {"Idempotency-Key": f"{payment_id}-refund"}
            self._call(
                payment_operations, "POST", "/refund-payment", merchant, body=body, headers=headers
            )
        self._drain()
        for merchant, payment_id, amount in accepted:
            view = self._view(merchant, payment_id)
            if view.get("refundedAmount") != amount // 2:
                raise RuntimeError(f"a refund of the mix did not succeed: {view}")
        self.refunds += len(accepted)

    def run(self, merchants: list[str]) -> dict[str, int]:
        statuses: dict[str, int] = defaultdict(int)
        for start in range(0, len(merchants), ROUND):
            submitted = []
            for merchant in merchants[start : start + ROUND]:
                created = self._call(
                    create_payment,
                    "POST",
                    "/create-payment",
                    merchant,
                    body={"merchantId": merchant},
                )
                payment_id = str(created["paymentId"])
                pending = self._rng.random() < PENDING_SHARE
                amount = PENDING_AMOUNT if pending else self._rng.randint(1000, 99_999)
                self._call(
                    make_payment,
                    "POST",
                    "/make-payment",
                    merchant,
                    body=make_payment_body(payment_id, merchant, amount),
                    headers={"Idempotency-Key": f"{payment_id}-make"},
                )
                self._poll(merchant, payment_id)
                submitted.append((merchant, payment_id, amount))
            self._drain()
            to_refund = []
            for merchant, payment_id, amount in submitted:
                status = self._poll(merchant, payment_id)
                statuses[status] += 1
                if status == PaymentStatus.ACCEPTED and self._rng.random() < REFUND_SHARE:
                    to_refund.append((merchant, payment_id, amount))
            self._refund(to_refund)
        return dict(statuses)


def _summary(
    units: dict[tuple[str, str], float], payments: int, limit: int, rate: int
) -> dict[str, Any]:
    by_target: dict[str, dict[str, float]] = defaultdict(dict)
    for (target, key), value in units.items():
        by_target[target][key] = value
    rows = {}
    for target, keys in sorted(by_target.items()):
        hottest, hottest_units = max(keys.items(), key=lambda pair: pair[1])
        per_payment = hottest_units / payments
        # A key of one payment (its id, its idempotency key) takes that payment's units
        # once, whatever the rate: at worst all within one second.
        own_key = target in _KEYS_OF_ONE_PAYMENT
        rows[target] = {
            "keys": len(keys),
            "key_per_payment": own_key,
            "units_per_payment": round(sum(keys.values()) / payments, 3),
            "hottest_key": hottest,
            "hottest_share": round(hottest_units / sum(keys.values()), 4),
            "hottest_units_per_payment": round(per_payment, 4),
            "ceiling_payments_per_second": None if own_key else int(limit / per_payment),
            "percent_of_limit_at_rate": round(
                100 * (hottest_units if own_key else rate * per_payment) / limit, 1
            ),
        }
    return rows


def measure(
    payments: int = 2000, rate: int = 5000, seed: int = 12, **overrides: Any
) -> dict[str, Any]:
    """Runs the mix and reports, per table and index, its hottest partition key."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible mix, not a secret)
    merchants = merchant_mix(rng, payments)
    # moto's table Query reads the whole table: the deliveries' queries of the events table
    # would make the run quadratic. Moto's time only; paygate's CPU is measured apart.
    faster_table_queries()
    with mock_aws(), quiet(), webhook_receiver() as receiver:
        settings: Settings = provisioned_settings().replace(
            recheck_base_seconds=0, webhooks_allow_loopback=1, **overrides
        )
        services = Services(settings, AwsClients(settings), SystemClock())
        # A stack in steady state: the worker made the day's card key pair the day before,
        # and every merchant has registered its endpoint.
        services.card_key_upkeep.run()
        for merchant in sorted(set(merchants)):
            services.webhook_endpoint_service.register(merchant, merchant, receiver.url, ())
        tables = {
            settings.payments_table: PAYMENTS_TABLE,
            settings.idempotency_table: IDEMPOTENCY_TABLE,
            settings.merchants_table: MERCHANTS_TABLE,
            settings.events_table: EVENTS_TABLE,
            settings.webhook_endpoints_table: WEBHOOK_ENDPOINTS_TABLE,
        }
        clients = services.clients
        cpu = MotoCpu(clients.dynamodb, clients.sqs, clients.kms, clients.streams)
        recorder = HeatRecorder(clients.dynamodb, tables, cpu)
        started = time.perf_counter()
        runner = MixRunner(services, rng, cpu)
        statuses = runner.run(merchants)
        seconds = time.perf_counter() - started
        received = receiver.received()
    unfinished = {s: n for s, n in statuses.items() if not PaymentStatus(s).is_final}
    if unfinished:
        raise RuntimeError(f"payments left unfinished by the mix: {unfinished}")
    invocations = {name: len(times) for name, times in runner.seconds.items()}
    return {
        "payments": payments,
        "rate": rate,
        "seconds": round(seconds, 1),
        "final_statuses": statuses,
        "refunds": runner.refunds,
        "refund_share_assumed": REFUND_SHARE,
        "webhooks_received": received,
        # Stream batches the publisher failed (retried, as Lambda would): none expected.
        "failed_batches": dict(runner.failed_batches),
        "settings": {
            "in_flight_shards": settings.in_flight_shards,
            "merchant_buckets": settings.merchant_buckets,
            "worker_concurrency": settings.worker_concurrency,
            "endpoints_per_merchant": 1,
            **{name: getattr(settings, name) for name in overrides},
        },
        "writes": _summary(recorder.writes, payments, PARTITION_WRITE_UNITS, rate),
        "reads": _summary(recorder.reads, payments, PARTITION_READ_UNITS, rate),
        # Median milliseconds per invocation (in-process on moto: no network, moto's CPU).
        "invocation_ms": {
            name: round(1000 * statistics.median(times), 1)
            for name, times in sorted(runner.seconds.items())
        },
        # CPU milliseconds per invocation, paygate's alone (moto's taken out), on one core
        # of this machine.
        "cpu_ms": {
            name: round(1000 * runner.cpu_seconds[name] / count, 2)
            for name, count in sorted(invocations.items())
        },
        "requests_per_invocation": {
            name: round(runner.function_requests[name] / count, 2)
            for name, count in sorted(invocations.items())
        },
        "invocations_per_payment": {
            name: round(count / payments, 3) for name, count in sorted(invocations.items())
        },
        "records_per_batch": {
            name: round(statistics.mean(runner.records[name]), 2) for name in BACKGROUND
        },
        "records_per_payment": {
            name: round(sum(runner.records[name]) / payments, 3) for name in BACKGROUND
        },
        # Each holds a worker slot and a bank call: a payment's, a recheck's, a refund's.
        "worker_jobs_per_payment": round(sum(runner.records[WORKER]) / payments, 3),
        # KMS and SQS requests per payment (Lambda's event sources' receives and deletes
        # are made with a client of their own, not counted).
        "requests_per_payment": {
            name: round(count / payments, 3) for name, count in sorted(runner.requests.items())
        },
    }


if __name__ == "__main__":
    import sys

    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 2000), indent=2))
