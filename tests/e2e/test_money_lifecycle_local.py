"""The money lifecycle (issue #27) on the local stack, over HTTP as a merchant does it: a
manual capture authorized, part captured, part refunded twice, a refund past the captured
amount refused, a refund the bank declines; every step seen in get-payment, in
/payment-events and at the merchant's webhook receiver, signed. Refunds racing at once
never give back more than was captured, by the API's word and by the bank's ledger."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.webhook_isolation import Merchant, new_merchant, remove
from cli.http_client import HttpAnswer
from core.domain.webhook_signature import SIGNATURE_HEADER, verify_signature
from core.resources import BANK_LEDGER_TABLE, DEFAULT_PREFIX
from tests.e2e.conftest import RunningStack
from tests.e2e.test_local_stack import card, create, get

# Each step's answer from the worker and the event publisher: a few seconds at most here.
SETTLE_SECONDS = 30.0


@dataclass
class Receiver:
    """A merchant's webhook endpoint: every delivery's raw body and signature header."""

    url: str
    deliveries: list[tuple[bytes, str]] = field(default_factory=list)


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.deliveries.append((body, self.headers.get(SIGNATURE_HEADER, "")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Shop:
    """A merchant of its own on the shared stack (no endpoint another test left is in the
    way), calling the API with its key."""

    stack: RunningStack
    merchant: Merchant

    def post(self, path: str, payload: dict[str, Any]) -> HttpAnswer:
        body = {"merchantId": self.merchant.merchant_id, **payload}
        return self.stack.request("POST", path, body, self.merchant.api_key)

    def get(self, path: str, payment_id: str) -> Any:
        query = f"merchantId={self.merchant.merchant_id}&paymentId={payment_id}"
        answer = self.stack.request("GET", f"{path}?{query}", None, self.merchant.api_key)
        assert answer.status == 200, answer.body
        return answer.body

    def pay(self, amount: int, capture_method: str) -> str:
        created = self.post("/create-payment", {})
        assert created.status == 201, created.body
        payment_id = str(created.body["paymentId"])
        made = card(payment_id, self.merchant.merchant_id, amount) | {
            "captureMethod": capture_method
        }
        answer = self.stack.request("POST", "/make-payment", made, self.merchant.api_key)
        assert answer.status == 202, answer.body
        return payment_id

    def payment_once(self, payment_id: str, reached: Any) -> dict[str, Any]:
        """get-payment once `reached(view)` holds (the worker answered)."""
        self.stack.wait_for(
            lambda: reached(self.get("/get-payment", payment_id)), SETTLE_SECONDS, payment_id
        )
        return dict(self.get("/get-payment", payment_id))

    def refund(self, payment_id: str, amount: int) -> HttpAnswer:
        return self.post("/refund-payment", {"paymentId": payment_id, "amount": amount})


def _answered(refunds: int) -> Any:
    """The payment once `refunds` refunds are asked for, and none is Pending any more."""

    def reached(view: dict[str, Any]) -> bool:
        listed = view.get("refunds") or []
        return len(listed) == refunds and all(r["status"] != "Pending" for r in listed)

    return reached


def test_authorize_capture_part_refund_part_twice_and_see_every_step(
    stack: RunningStack,
) -> None:
    shop = Shop(stack, new_merchant(stack, "lifecycle"))
    with webhook_receiver() as receiver:
        # GIVEN a merchant with a webhook endpoint for every event
        registered = shop.post("/webhook-endpoints", {"url": receiver.url})
        assert registered.status == 201, registered.body
        secret = str(registered.body["secret"])
        endpoint = str(registered.body["id"])

        # WHEN it pays 1250 with a manual capture
        payment_id = shop.pay(1250, "manual")
        authorized = shop.payment_once(payment_id, lambda v: v["status"] != "Processing")
        # and captures 1000 of it
        capture = shop.post("/capture-payment", {"paymentId": payment_id, "amount": 1000})
        accepted = shop.payment_once(payment_id, lambda v: v["status"] == "Accepted")
        # and refunds 300, then 200 (as ops do it for the merchant, with the paygate CLI)
        first = shop.refund(payment_id, 300)
        once = shop.payment_once(payment_id, _answered(1))
        second = json.loads(
            stack.cli(
                *("payments", "refund", payment_id, "--amount", "200", "--json"),
                *("--merchant-id", shop.merchant.merchant_id, "--api-key", shop.merchant.api_key),
            )
        )
        twice = shop.payment_once(payment_id, _answered(2))
        # and asks a refund past what is left of the captured amount (500), then one of 3
        past = shop.refund(payment_id, 501)
        declined = shop.refund(payment_id, 3)
        final = shop.payment_once(payment_id, _answered(3))

        # THEN get-payment showed every step
        assert (authorized["status"], authorized["captureMethod"]) == ("Authorized", "manual")
        assert "capturedAmount" not in authorized
        assert capture.status == 202, capture.body
        assert (accepted["status"], accepted["capturedAmount"]) == ("Accepted", 1000)
        assert (first.status, first.body["status"], first.body["amount"]) == (202, "Pending", 300)
        assert once["refundedAmount"] == 300
        assert (second["status"], second["amount"]) == ("Pending", 200)
        assert twice["refundedAmount"] == 500
        assert (past.status, past.body["failCode"]) == (409, "refund_exceeds_captured")
        assert declined.status == 202, declined.body
        assert (final["status"], final["capturedAmount"], final["refundedAmount"]) == (
            "Accepted",
            1000,
            500,
        )
        assert [(r["refundId"], r["amount"], r["status"]) for r in final["refunds"]] == [
            (first.body["refundId"], 300, "Succeeded"),
            (second["refundId"], 200, "Succeeded"),
            (declined.body["refundId"], 3, "Failed"),
        ]
        assert final["refunds"][2]["failCode"] == "refund_declined"

        # and /payment-events listed each change, once
        expected = [
            "payment.processing",
            "payment.authorized",
            "payment.accepted",
            "payment.refunded",
            "payment.refunded",
            "refund.failed",
        ]
        # (published from the payments table's stream: a moment after the write)
        stack.wait_for(
            lambda: len(shop.get("/payment-events", payment_id)["events"]) >= len(expected),
            SETTLE_SECONDS,
            "every event",
        )
        events = shop.get("/payment-events", payment_id)["events"]
        assert [event["type"] for event in events] == expected
        refunded = [event["refund"]["refundId"] for event in events if "refund" in event]
        assert refunded == [r["refundId"] for r in final["refunds"]]

        # and the merchant's receiver got each of them, signed with its secret
        stack.wait_for(
            lambda: len({body for body, _ in receiver.deliveries}) >= len(expected),
            SETTLE_SECONDS,
            "every webhook",
        )
        for body, signature in receiver.deliveries:
            verify_signature(body, signature, [secret])
        assert set(_ids(receiver)) == {event["id"] for event in events}
        remove(stack, shop.merchant.merchant_id, endpoint, shop.merchant.api_key)


def test_the_development_merchant_voids_with_the_cli_and_its_key_from_the_state_file(
    stack: RunningStack,
) -> None:
    # GIVEN an Authorized payment of the development merchant
    payment_id = pay_manually(stack)

    # WHEN ops void it with the paygate CLI, naming neither merchant nor key
    voided = json.loads(stack.cli("payments", "void", payment_id, "--json"))
    stack.wait_for(
        lambda: get(stack, payment_id).body["status"] == "Voided", SETTLE_SECONDS, "the void"
    )

    # THEN the API answered the void under way, and the payment is Voided as asked
    assert (voided["status"], voided["settling"]) == ("Authorized", "void")
    shown = json.loads(stack.cli("payments", "get", payment_id, "--json"))
    assert (shown["status"], shown["voidReason"]) == ("Voided", "requested_by_merchant")
    # and its event is out before the next test listens for the development merchant's
    stack.wait_for(lambda: "payment.voided" in _types(stack, payment_id), SETTLE_SECONDS, "event")


def _types(stack: RunningStack, payment_id: str) -> list[str]:
    query = f"merchantId={stack.merchant_id}&paymentId={payment_id}"
    return [e["type"] for e in stack.request("GET", f"/payment-events?{query}").body["events"]]


def pay_manually(stack: RunningStack) -> str:
    """An Authorized payment of the development merchant (a manual capture of 1250)."""
    payment_id = create(stack)
    made = card(payment_id, stack.merchant_id, 1250) | {"captureMethod": "manual"}
    assert stack.request("POST", "/make-payment", made).status == 202
    stack.wait_for(
        lambda: get(stack, payment_id).body["status"] == "Authorized", SETTLE_SECONDS, "Authorized"
    )
    return payment_id


def _ids(receiver: Receiver) -> list[str]:
    return [str(json.loads(body)["id"]) for body, _ in receiver.deliveries]


def _refunded_at_the_bank(stack: RunningStack, payment_id: str) -> list[int]:
    """What the simulated bank's ledger says each refund of the payment gave back."""
    pages = (
        stack.aws("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=BANK_LEDGER_TABLE.physical_name(DEFAULT_PREFIX),
            FilterExpression="paymentId = :payment AND kind = :refund",
            ExpressionAttributeValues={":payment": {"S": payment_id}, ":refund": {"S": "refund"}},
            ConsistentRead=True,
        )
    )
    return [int(item["moved"]["N"]) for page in pages for item in page["Items"]]


def test_refunds_racing_at_once_never_give_back_more_than_was_captured(
    stack: RunningStack,
) -> None:
    # GIVEN a payment of 1000, captured whole
    shop = Shop(stack, new_merchant(stack, "racing"))
    payment_id = shop.pay(1000, "automatic")
    shop.payment_once(payment_id, lambda v: v["status"] == "Accepted")

    # WHEN 8 clients each refund 300 of it at the same moment
    start = threading.Barrier(8)

    def refund(_: int) -> HttpAnswer:
        start.wait()
        return shop.refund(payment_id, 300)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(refund, range(8)))

    # THEN 3 were taken and 5 refused as past the captured amount
    assert sorted(a.status for a in answers) == [202] * 3 + [409] * 5, answers
    assert {a.body["failCode"] for a in answers if a.status == 409} == {"refund_exceeds_captured"}
    # and get-payment and the bank's ledger agree: 900 given back, not a cent more
    final = shop.payment_once(payment_id, _answered(3))
    assert (final["capturedAmount"], final["refundedAmount"]) == (1000, 900)
    assert sorted(r["refundId"] for r in final["refunds"]) == sorted(
        a.body["refundId"] for a in answers if a.status == 202
    )
    assert _refunded_at_the_bank(stack, payment_id) == [300, 300, 300]
