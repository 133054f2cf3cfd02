"""One merchant cannot slow another's webhooks (issue #25, item 3), on the local stack:
merchant A's webhook latency (make-payment answered -> its payment.accepted event at A's
receiver), first alone, then while merchant B's 16 endpoints hold every POST for 12 s (a
tarpit) and B keeps paying: while B's tarpit starts (its endpoints not yet found slow) and
once it runs. `make bench` reports the p99 ratio; tests/e2e holds the bound."""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cli.local_process import RunningStack, start_stack, stop_stack

TARPIT_HOLD_SECONDS = 12.0
TARPIT_ENDPOINTS = 16
# A test card the simulated bank accepts (amount 1250: Accepted at once).
_AMOUNT = 1250


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@contextmanager
def http_receiver(
    on_post: Callable[[bytes], None], hold: threading.Event | None = None
) -> Iterator[str]:
    """A loopback receiver calling `on_post` with each body, then answering 200; with
    `hold`, it first waits until `hold` is set or TARPIT_HOLD_SECONDS pass. Its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            on_post(body)
            if hold is not None:
                hold.wait(TARPIT_HOLD_SECONDS)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()


def _card(payment_id: str, merchant_id: str) -> dict[str, Any]:
    return {
        "paymentId": payment_id,
        "merchantId": merchant_id,
        "cardNumber": "4111111111111111",
        "cvv": "123",
        "expiryYear": 2031,
        "expiryMonth": 7,
        "currency": "EUR",
        "amount": _AMOUNT,
        "cardName": "A Shopper",
        "billingAddress": "1 Main St",
    }


def pay(stack: RunningStack, merchant_id: str, api_key: str | None = None) -> tuple[str, float]:
    """A payment made; its id and when make-payment answered (monotonic)."""
    created = stack.request("POST", "/create-payment", {"merchantId": merchant_id}, api_key)
    assert created.status == 201, created.body
    payment_id = str(created.body["paymentId"])
    made = stack.request("POST", "/make-payment", _card(payment_id, merchant_id), api_key)
    assert made.status == 202, made.body
    return payment_id, time.monotonic()


def register(stack: RunningStack, merchant_id: str, url: str, api_key: str | None = None) -> str:
    answer = stack.request(
        "POST",
        "/webhook-endpoints",
        {"merchantId": merchant_id, "url": url, "eventTypes": ["payment.accepted"]},
        api_key,
    )
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


def remove(
    stack: RunningStack, merchant_id: str, endpoint_id: str, api_key: str | None = None
) -> None:
    stack.request(
        "DELETE", f"/webhook-endpoints?merchantId={merchant_id}&id={endpoint_id}", None, api_key
    )


class Arrivals:
    """When each payment's event first reached a receiver (monotonic), by payment id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self._changed = threading.Condition()

    def record(self, body: bytes) -> None:
        payment_id = str(json.loads(body)["paymentId"])
        with self._changed:
            self.at.setdefault(payment_id, time.monotonic())
            self._changed.notify_all()

    def wait_for(self, payment_id: str, seconds: float) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: payment_id in self.at, seconds)
            return self.at.get(payment_id)


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    api_key: str


def new_merchant(stack: RunningStack, name: str) -> Merchant:
    """A merchant of its own, so nothing another test left on the stack (endpoints of the
    development merchant) is in what is measured."""
    merchant_id = f"{name}-{uuid.uuid4().hex[:8]}"
    created = stack.cli("merchants", "create", name, "--merchant-id", merchant_id, "--json")
    return Merchant(merchant_id, str(json.loads(created)["apiKey"]))


def a_latencies(
    stack: RunningStack, a: Merchant, payments: int, wait_seconds: float
) -> list[float]:
    """Merchant A pays `payments` times, one after the other; the seconds from each
    make-payment answer to its payment.accepted at A's receiver (inf: never came)."""
    arrivals = Arrivals()
    latencies = []
    with http_receiver(arrivals.record) as url:
        endpoint = register(stack, a.merchant_id, f"{url}/a", a.api_key)
        try:
            for _ in range(payments):
                payment_id, answered = pay(stack, a.merchant_id, a.api_key)
                arrived = arrivals.wait_for(payment_id, wait_seconds)
                latencies.append(float("inf") if arrived is None else arrived - answered)
        finally:
            remove(stack, a.merchant_id, endpoint, a.api_key)
    return latencies


def tarpit_found_slow(
    stack: RunningStack, b: Merchant, payment_ids: list[str], endpoints: int, seconds: float
) -> None:
    """Wait until B's first payments' events show an attempt at each of B's endpoints:
    paygate has found them all slow (the tarpit runs)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tried = set()
        for payment_id in payment_ids:
            answer = stack.request(
                "GET",
                f"/payment-events?merchantId={b.merchant_id}&paymentId={payment_id}",
                None,
                b.api_key,
            )
            events = answer.body.get("events", []) if answer.status == 200 else []
            tried |= {d["endpointId"] for e in events for d in e["deliveries"] if d["attempts"]}
        if len(tried) >= endpoints:
            return
        time.sleep(0.2)
    raise TimeoutError(f"B's endpoints were not all tried within {seconds:g} s")


@dataclass
class Tarpit:
    # What B's tarpit has received so far.
    arrivals: Arrivals
    # Waits until paygate has found B's endpoints slow: from then on the tarpit runs.
    until_running: Callable[[], None]


@contextmanager
def tarpit_merchant(stack: RunningStack) -> Iterator[Tarpit]:
    """Merchant B with TARPIT_ENDPOINTS endpoints that each hold every POST, paying once a
    second in the background, from 4 payments at once."""
    b = new_merchant(stack, "tarpit-shop")
    arrivals, hold, stop = Arrivals(), threading.Event(), threading.Event()

    def keep_paying() -> None:
        while not stop.wait(1.0):
            pay(stack, b.merchant_id, b.api_key)

    with http_receiver(arrivals.record, hold) as url:
        endpoints = [
            register(stack, b.merchant_id, f"{url}/b{n}", b.api_key)
            for n in range(TARPIT_ENDPOINTS)
        ]
        first = [pay(stack, b.merchant_id, b.api_key)[0] for _ in range(4)]
        payer = threading.Thread(target=keep_paying, daemon=True)
        payer.start()
        try:
            yield Tarpit(
                arrivals,
                lambda: tarpit_found_slow(stack, b, first, len(endpoints), 4 * TARPIT_HOLD_SECONDS),
            )
        finally:
            stop.set()
            payer.join()
            for endpoint in endpoints:
                remove(stack, b.merchant_id, endpoint, b.api_key)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# What the starting phase measures: A's payments made as B's tarpit starts.
STARTING_PAYMENTS = 5


def measure(payments: int = 20, progress: Callable[[str], None] = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp))
        try:
            progress(f"  merchant A alone: {payments} payments")
            a = new_merchant(stack, "shop-a")
            alone = a_latencies(stack, a, payments, TARPIT_HOLD_SECONDS * 2)
            with tarpit_merchant(stack) as tarpit:
                progress(f"  merchant A as B's tarpit starts: {STARTING_PAYMENTS} payments")
                starting = a_latencies(stack, a, STARTING_PAYMENTS, TARPIT_HOLD_SECONDS * 4)
                tarpit.until_running()
                progress(f"  merchant A beside B's running tarpit: {payments} payments")
                beside = a_latencies(stack, a, payments, TARPIT_HOLD_SECONDS * 4)
        finally:
            stop_stack(stack)
    baseline, with_tarpit = percentile(alone, 0.99), percentile(beside, 0.99)
    return {
        "payments": payments,
        "tarpit": f"{TARPIT_ENDPOINTS} endpoints holding each POST {TARPIT_HOLD_SECONDS:g} s",
        "alone_p50_s": round(percentile(alone, 0.5), 3),
        "alone_p99_s": round(baseline, 3),
        "beside_tarpit_p50_s": round(percentile(beside, 0.5), 3),
        "beside_tarpit_p99_s": round(with_tarpit, 3),
        "p99_ratio": round(with_tarpit / baseline, 2),
        "starting_payments": STARTING_PAYMENTS,
        "tarpit_starting_max_s": round(max(starting), 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
