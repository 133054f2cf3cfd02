"""The local stack end to end: N payments from C concurrent clients over HTTP, each client
creating, submitting and polling its payment until final; against the floor: the rate at
which the same moto server completes the raw DynamoDB and SQS calls a payment needs.

The merchant has one webhook endpoint (a receiver on loopback answering 200 at once): how
long after the first payment every event of every payment had reached it, next to how long
the payments took to be final (issue #28: the local stack keeps up with its own webhooks)."""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.payloads import make_payment_body
from bench.webhook_isolation import http_receiver
from cli.local_process import RunningStack, start_stack, stop_stack
from core.domain.payment import PaymentStatus
from core.domain.webhook_events import EVENT_TYPES

FINAL = {"Accepted", "Declined", "InsufficientFunds"}
POLL_SECONDS = 0.05
FINAL_WITHIN_SECONDS = 60
# Issue #28: every webhook event received within this many times the payments' time.
WEBHOOKS_TARGET_RATIO = 1.5
# How long, past the payments' time, the receiver is waited for (a stack that does not
# keep up is still measured, within reason).
WEBHOOKS_WAIT_RATIO = 8
# The raw calls of one payment (section 2, KMS left out): create PutItem; make UpdateItem
# and SendMessage; the event source's ReceiveMessage and DeleteMessage; the worker's
# GetItem and PutItem; one get GetItem.
RAW_CALLS_PER_PAYMENT = 8


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class _Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[int, int] = defaultdict(int)
        self._lock = threading.Lock()

    def call(self, stack: RunningStack, name: str, method: str, path: str, body: Any = None) -> Any:
        started = time.perf_counter()
        answer = stack.request(method, path, body)
        with self._lock:
            self.latency[name].append((time.perf_counter() - started) * 1000)
            self.statuses[answer.status] += 1
        return answer


class _Receiver:
    """What the merchant's endpoint received: each event's type by (paymentId, type), when
    it first came (perf_counter), and how many POSTs in all (at least once: repeats too)."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], float] = {}
        self.event_ids: set[str] = set()
        self.posts = 0
        self._changed = threading.Condition()

    def record(self, body: bytes) -> None:
        event = json.loads(body)
        with self._changed:
            self.posts += 1
            self.event_ids.add(event["id"])
            self.first.setdefault((event["paymentId"], event["type"]), time.perf_counter())
            self._changed.notify_all()

    def wait_for(self, expected: set[tuple[str, str]], seconds: float) -> float | None:
        """When the last of `expected` came (perf_counter), or None if not all within."""
        with self._changed:
            if not self._changed.wait_for(lambda: expected <= self.first.keys(), seconds):
                return None
            return max(self.first[key] for key in expected)


def _events_of(payment_id: str, statuses: set[str]) -> set[tuple[str, str]]:
    """The events a payment that went through `statuses` makes: one per status reached."""
    made = {status.value: event for status, event in EVENT_TYPES.items()}
    return {(payment_id, made[status]) for status in statuses if status in made}


def _one_payment(
    stack: RunningStack, recorder: _Recorder, n: int, seen: dict[str, set[str]]
) -> float | None:
    merchant = stack.merchant_id
    created = recorder.call(stack, "create", "POST", "/create-payment", {"merchantId": merchant})
    payment_id = created.body["paymentId"]
    card = make_payment_body(payment_id, merchant, 1000 + n)
    recorder.call(stack, "make", "POST", "/make-payment", card)
    submitted = time.perf_counter()
    # Processing, whatever get-payment shows first: make-payment answered 202.
    statuses = seen[payment_id] = {PaymentStatus.PROCESSING.value}
    query = f"/get-payment?merchantId={merchant}&paymentId={payment_id}"
    while time.perf_counter() - submitted < FINAL_WITHIN_SECONDS:
        status = str(recorder.call(stack, "get", "GET", query).body.get("status"))
        statuses.add(status)
        if status in FINAL:
            return (time.perf_counter() - submitted) * 1000
        time.sleep(POLL_SECONDS)
    return None


def _floor(stack: RunningStack, payments: int, clients: int) -> float:
    dynamodb, sqs = stack.aws("dynamodb"), stack.aws("sqs")
    environment = stack.state["environment"]
    table, queue = environment["PAYGATE_PAYMENTS_TABLE"], environment["PAYGATE_JOBS_QUEUE_URL"]

    def raw_payment(n: int) -> None:
        key = {"paymentId": {"S": f"floor-{uuid.uuid4()}"}}
        item = key | {"merchantId": {"S": "floor"}, "createdAt": {"N": "1"}, "version": {"N": "1"}}
        dynamodb.put_item(TableName=table, Item=item)
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET version = :v",
            ExpressionAttributeValues={":v": {"N": "2"}},
        )
        sqs.send_message(QueueUrl=queue + "-floor", MessageBody=json.dumps(n))
        for message in sqs.receive_message(QueueUrl=queue + "-floor").get("Messages", []):
            sqs.delete_message(QueueUrl=queue + "-floor", ReceiptHandle=message["ReceiptHandle"])
        dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
        dynamodb.put_item(TableName=table, Item=item | {"version": {"N": "3"}})
        dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)

    sqs.create_queue(QueueName=queue.rsplit("/", 1)[1] + "-floor")
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(raw_payment, range(payments)))
    return payments / (time.perf_counter() - started)


def measure(
    payments: int = 1000, clients: int = 16, progress: Callable[[str], None] = print
) -> dict[str, Any]:
    receiver = _Receiver()
    seen: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as directory, http_receiver(receiver.record) as url:
        stack = start_stack(Path(directory))
        try:
            endpoint = stack.request(
                "POST", "/webhook-endpoints", {"merchantId": stack.merchant_id, "url": url}
            )
            assert endpoint.status == 201, endpoint.body
            recorder = _Recorder()
            progress(
                f"  end to end: {payments} payments from {clients} clients, one webhook endpoint"
            )
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                to_final = list(
                    pool.map(lambda n: _one_payment(stack, recorder, n, seen), range(payments))
                )
            elapsed = time.perf_counter() - started
            finished = [ms for ms in to_final if ms is not None]
            progress(f"  end to end: {len(finished)} final in {elapsed:.1f} s; their webhooks")
            expected = set().union(*(_events_of(p, s) for p, s in seen.items()))
            last = receiver.wait_for(expected, WEBHOOKS_WAIT_RATIO * elapsed)
            drained = None if last is None else last - started
            received = len(expected & receiver.first.keys())
            progress(
                f"  end to end: {received} of {len(expected)} events received"
                + ("" if drained is None else f" in {drained:.1f} s")
                + "; measuring the floor"
            )
            # After the webhooks, so the floor has the moto server to itself, as before.
            floor = _floor(stack, payments, clients)
        finally:
            stop_stack(stack)
    throughput = len(finished) / elapsed
    webhooks_ratio = None if drained is None else round(drained / elapsed, 2)
    return {
        "payments": payments,
        "clients": clients,
        "throughput_per_second": round(throughput, 1),
        "floor_payments_per_second": round(floor, 1),
        "ratio": round(throughput / floor, 2),
        "target_ratio": 0.5,
        "lost": payments - len(finished),
        "server_errors": sum(count for status, count in recorder.statuses.items() if status >= 500),
        "statuses": {str(status): count for status, count in sorted(recorder.statuses.items())},
        "latency_ms": {
            name: {
                "p50": round(_percentile(values, 0.50), 1),
                "p95": round(_percentile(values, 0.95), 1),
                "p99": round(_percentile(values, 0.99), 1),
            }
            for name, values in recorder.latency.items()
        },
        "make_to_final_ms": {
            "p50": round(statistics.median(finished), 1) if finished else None,
            "p99": round(_percentile(finished, 0.99), 1),
        },
        "webhooks": {
            "payments_final_seconds": round(elapsed, 1),
            "events_expected": len(expected),
            "events_received": received,
            "posts_received": receiver.posts,
            "distinct_event_ids": len(receiver.event_ids),
            # None: not all received within WEBHOOKS_WAIT_RATIO times the payments' time.
            "drained_seconds": None if drained is None else round(drained, 1),
            "ratio": webhooks_ratio,
            "target_ratio": WEBHOOKS_TARGET_RATIO,
            "met": webhooks_ratio is not None and webhooks_ratio <= WEBHOOKS_TARGET_RATIO,
        },
    }
