"""`paygate smoke`: the end-to-end scenarios, run as a merchant over the API of a running
paygate (a deployed stack, or the local one), with a DLQ round trip as ops do it.

A merchant of its own (`paygate-smoke`) gets a fresh key for the run, revoked at the end;
the bank's timeout switch is put back as it was found. Each scenario is one check with
what was seen; the run passes when every check does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cli.http_client import HttpAnswer, http_request
from cli.merchant_commands import register_merchant
from cli.target import Target
from cli.usage_plans import Plan
from core.domain.bank_simulation import (
    DECLINED_AMOUNT,
    FLAKY_AMOUNT,
    INSUFFICIENT_FUNDS_AMOUNT,
    PENDING_AMOUNT,
    TIMEOUT_AMOUNT,
)
from core.domain.clock import epoch_seconds
from core.domain.dead_letters import LetterFilter
from core.domain.errors import MerchantExistsError
from core.domain.payment import PaymentStatus
from core.resources import JOBS_QUEUE, MAX_RECEIVE_COUNT

SMOKE_MERCHANT = "paygate-smoke"
SMOKE_MERCHANT_NAME = "paygate smoke test"
# A test card (Luhn-valid, never a real one); the smoke checks it is never shown back.
TEST_CARD = "4111111111111111"
ACCEPTED_AMOUNT = 1250
# (amount, the status it must end in, a status it passes through on the way)
OUTCOMES = (
    (ACCEPTED_AMOUNT, PaymentStatus.ACCEPTED, None),
    (DECLINED_AMOUNT, PaymentStatus.DECLINED, None),
    (INSUFFICIENT_FUNDS_AMOUNT, PaymentStatus.INSUFFICIENT_FUNDS, None),
    (PENDING_AMOUNT, PaymentStatus.ACCEPTED, PaymentStatus.PENDING),
    (FLAKY_AMOUNT, PaymentStatus.ACCEPTED, None),
)
DEFAULT_SETTLE_SECONDS = 180.0
# A 504 job reaches the DLQ after its last receive: at most this long on AWS.
DEFAULT_DLQ_WAIT_SECONDS = float(MAX_RECEIVE_COUNT * JOBS_QUEUE.visibility_timeout_seconds + 60)
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    seconds: float


@dataclass
class SmokeRun:
    target: Target
    api_key: str = ""
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    on_check: Callable[[Check], None] = lambda _: None
    checks: list[Check] = field(default_factory=list)
    made: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def call(self, method: str, path: str, **kwargs: Any) -> HttpAnswer:
        assert self.target.api_url, "the stack has no API URL"
        return http_request(self.target.api_url, method, path, self.api_key, **kwargs)

    def check(self, name: str, scenario: Callable[[], tuple[bool, str]]) -> bool:
        started = time.monotonic()
        try:
            passed, detail = scenario()
        except Exception as error:  # a failed scenario is reported, not raised
            passed, detail = False, f"{type(error).__name__}: {error}"
        result = Check(name, passed, detail, round(time.monotonic() - started, 1))
        self.checks.append(result)
        self.on_check(result)
        return passed

    # The scenarios

    def create(self) -> tuple[bool, str]:
        answer = self.call("POST", "/create-payment", payload={"merchantId": SMOKE_MERCHANT})
        body = answer.body or {}
        ok = answer.status == 201 and body.get("status") == PaymentStatus.CREATED.value
        if ok:
            self.made.append(body["paymentId"])
        return ok, f"{answer.status} {body.get('status') or body.get('failCode')}"

    def submit(self, amount: int) -> str:
        """A new payment of `amount`, submitted (202 Processing); its id."""
        created = self.call("POST", "/create-payment", payload={"merchantId": SMOKE_MERCHANT})
        if created.status != 201:
            raise AssertionError(f"create-payment answered {created.status}: {created.body}")
        payment_id = str(created.body["paymentId"])
        self.made.append(payment_id)
        answer = self.call("POST", "/make-payment", payload=_card_body(payment_id, amount))
        if (answer.status, (answer.body or {}).get("status")) != (202, "Processing"):
            raise AssertionError(f"make-payment answered {answer.status}: {answer.body}")
        return payment_id

    def get(self, payment_id: str) -> dict[str, Any]:
        query = {"merchantId": SMOKE_MERCHANT, "paymentId": payment_id}
        answer = self.call("GET", "/get-payment", query=query)
        if answer.status != 200:
            raise AssertionError(f"get-payment answered {answer.status}: {answer.body}")
        return dict(answer.body)

    def settle(self, payment_id: str, seconds: float) -> tuple[str, list[str]]:
        """Its final status (or its last, when `seconds` ran out) and every status seen."""
        deadline = time.monotonic() + seconds
        seen: list[str] = []
        while True:
            status = str(self.get(payment_id)["status"])
            if not seen or seen[-1] != status:
                seen.append(status)
            if PaymentStatus(status).is_final or time.monotonic() > deadline:
                return status, seen
            time.sleep(POLL_SECONDS)

    def outcome(
        self, amount: int, final: PaymentStatus, via: PaymentStatus | None
    ) -> tuple[bool, str]:
        status, seen = self.settle(self.submit(amount), self.settle_seconds)
        return status == final.value and (via is None or via.value in seen), " -> ".join(seen)

    def card_masked(self) -> tuple[bool, str]:
        view = self.get(self.made[-1])
        shown = str(view.get("cardNumber", ""))
        ok = shown.endswith(TEST_CARD[-4:]) and TEST_CARD not in str(view)
        return ok, f"cardNumber {shown}"

    def listing(self) -> tuple[bool, str]:
        query = {"merchantId": SMOKE_MERCHANT, "limit": "100"}
        answer = self.call("GET", "/list-payments", query=query)
        listed = {p["paymentId"] for p in (answer.body or {}).get("payments", [])}
        missing = [p for p in self.made if p not in listed]
        found = len(self.made) - len(missing)
        return answer.status == 200 and not missing, f"{found} of {len(self.made)} listed"

    def unknown_key(self) -> tuple[bool, str]:
        answer = http_request(
            str(self.target.api_url),
            "POST",
            "/create-payment",
            "pg_smoke_not_a_key",
            payload={"merchantId": SMOKE_MERCHANT},
        )
        return answer.status == 401, str(answer.status)

    def dead_letter_round_trip(self, wait_seconds: float) -> tuple[bool, str]:
        """A payment the bank never answers reaches the DLQ; with the bank answering again
        it is replayed and accepted."""
        controls = self.target.services.bank_controls
        timeouts_were = controls.read().timeouts
        controls.set_timeouts(True)
        try:
            payment_id = self.submit(TIMEOUT_AMOUNT)
            only = LetterFilter(payment_id=payment_id)
            deadline = time.monotonic() + wait_seconds
            while not self.target.dead_letters.list(only=only):
                if time.monotonic() > deadline:
                    return False, f"not in the DLQ after {wait_seconds:.0f} s"
                time.sleep(POLL_SECONDS * 4)
            controls.set_timeouts(False)
            replayed = self.target.dead_letters.replay(only=only, limit=10).replayed
            status, seen = self.settle(payment_id, self.settle_seconds)
        finally:
            controls.set_timeouts(timeouts_were)
        return (
            bool(replayed) and status == PaymentStatus.ACCEPTED.value,
            f"in the DLQ, replayed {len(replayed)}: {' -> '.join(seen)}",
        )

    def run(self, dlq_wait_seconds: float | None) -> None:
        self.check("an unknown API key is refused", self.unknown_key)
        if not self.check("create-payment", self.create):
            return
        for amount, final, via in OUTCOMES:
            route = f" via {via.value}" if via else ""
            self.check(
                f"amount {amount} ends {final.value}{route}",
                lambda a=amount, f=final, v=via: self.outcome(a, f, v),  # type: ignore[misc]
            )
        self.check("get-payment shows the card masked", self.card_masked)
        self.check("list-payments lists every payment made", self.listing)
        if dlq_wait_seconds is not None:
            self.check(
                f"amount {TIMEOUT_AMOUNT}: DLQ, replay, Accepted",
                lambda: self.dead_letter_round_trip(dlq_wait_seconds),
            )


def _card_body(payment_id: str, amount: int) -> dict[str, Any]:
    return {
        "paymentId": payment_id,
        "merchantId": SMOKE_MERCHANT,
        "cardNumber": TEST_CARD,
        "expiryYear": time.gmtime().tm_year + 3,
        "expiryMonth": 12,
        "currency": "EUR",
        "amount": amount,
        "cardName": "Smoke Test",
        "billingAddress": "1 Test Street",
        "cvv": "123",
    }


@contextmanager
def smoke_key(target: Target) -> Iterator[str]:
    """A fresh API key of the smoke merchant (registered on first use), revoked after."""
    merchants = target.merchants()
    now = epoch_seconds(target.services.clock)
    try:
        issued = register_merchant(target, SMOKE_MERCHANT, SMOKE_MERCHANT_NAME, Plan.STANDARD)
    except MerchantExistsError:
        issued = merchants.add_key(SMOKE_MERCHANT, created_at=now, actor=target.actor)
    try:
        yield issued.api_key
    finally:
        merchants.revoke_key(
            SMOKE_MERCHANT,
            issued.key_id,
            revoked_at=epoch_seconds(target.services.clock),
            actor=target.actor,
        )
        target.note_keys_changed()
