"""The simulated bank: answers by amount, keeps a ledger so a repeated idempotency key
returns the original result without authorizing again (across processes, in DynamoDB),
and has a switchable outage and an adjustable latency for demos and benchmarks.

What each amount answers, and the switches: core/domain/bank_simulation.py.

A Pending authorization is checked again by its idempotency key alone (`inquire`), and an
authorization can be voided (`void_unless_decided`): the reconciler's last resort.
Captures, voids and refunds are operations of their own, each once per idempotency key: the
ledger item of an operation records its answer and the money it moved.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from core.adapters.aws_errors import describe, is_condition_failure
from core.domain.bank_simulation import (
    DECLINED_AMOUNT,
    FLAKY_AMOUNT,
    FLAKY_FAILURES,
    INSUFFICIENT_FUNDS_AMOUNT,
    PENDING_AMOUNT,
    REFUND_DECLINED_AMOUNT,
    BankControls,
)
from core.domain.errors import BankTimeoutError, BankUnavailableError
from core.domain.payment import PROCESSING_FAILED, BankOutcome, PaymentStatus
from core.domain.ports import AuthorizationRequest
from core.domain.refunds import REFUND_DECLINED, REFUND_SUCCEEDED, RefundOutcome, RefundStatus
from core.resources import BANK_CONTROL_TABLE, BANK_LEDGER_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

P = ParamSpec("P")
R = TypeVar("R")


DECLINED = BankOutcome(PaymentStatus.DECLINED, "card_declined", "the issuer declined the card")
INSUFFICIENT_FUNDS = BankOutcome(
    PaymentStatus.INSUFFICIENT_FUNDS, "insufficient_funds", "the card has insufficient funds"
)
ACCEPTED = BankOutcome(PaymentStatus.ACCEPTED)
PENDING = BankOutcome(PaymentStatus.PENDING)

_LEDGER_KEY = BANK_LEDGER_TABLE.partition_key.name
_CONTROL_KEY = BANK_CONTROL_TABLE.partition_key.name
CONTROLS_FRESH_SECONDS = 1.0
_OUTAGE = "outage"
_LATENCY = "latency"
_TIMEOUTS = "timeouts"


class BankControlPanel:
    """The simulator's switches, kept in DynamoDB so every process sees them; a process
    re-reads them at most once a second (a switch takes effect within a second)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        fresh_seconds: float = CONTROLS_FRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table_name
        self._fresh_seconds = fresh_seconds
        self._monotonic = monotonic
        self._cached: tuple[float, BankControls] | None = None

    def read(self) -> BankControls:
        cached = self._cached
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        controls = self._read_table()
        self._cached = (self._monotonic() + self._fresh_seconds, controls)
        return controls

    def _read_table(self) -> BankControls:
        response = self._client.batch_get_item(
            RequestItems={
                self._table: {
                    "Keys": [
                        {_CONTROL_KEY: {"S": name}} for name in (_OUTAGE, _LATENCY, _TIMEOUTS)
                    ],
                    "ConsistentRead": True,
                }
            }
        )
        items = {
            item[_CONTROL_KEY]["S"]: item for item in response["Responses"].get(self._table, [])
        }
        outage = items.get(_OUTAGE, {}).get("enabled", {}).get("BOOL", False)
        latency = int(items.get(_LATENCY, {}).get("milliseconds", {}).get("N", "0"))
        timeouts = items.get(_TIMEOUTS, {}).get("enabled", {}).get("BOOL", True)
        return BankControls(outage=bool(outage), latency_ms=latency, timeouts=bool(timeouts))

    def _switch(self, name: str, enabled: bool) -> None:
        self._cached = None
        self._client.put_item(
            TableName=self._table,
            Item={_CONTROL_KEY: {"S": name}, "enabled": {"BOOL": enabled}},
        )

    def set_outage(self, enabled: bool) -> None:
        self._switch(_OUTAGE, enabled)

    def set_timeouts(self, enabled: bool) -> None:
        self._switch(_TIMEOUTS, enabled)

    def set_latency(self, milliseconds: int) -> None:
        if milliseconds < 0:
            raise ValueError("latency cannot be negative")
        self._cached = None
        self._client.put_item(
            TableName=self._table,
            Item={_CONTROL_KEY: {"S": _LATENCY}, "milliseconds": {"N": str(milliseconds)}},
        )


@dataclass(frozen=True)
class LedgerEntry:
    idempotency_key: str
    calls: int
    checks: int
    outcome: BankOutcome | None
    authorizations: int
    # The amount of an authorization the bank answered Pending, decided on its next check.
    pending_amount: int | None = None
    # A capture's, void's or refund's answer, and the money it moved.
    answer: RefundOutcome | None = None
    moved: int = 0


def _outcome_attributes(outcome: BankOutcome | RefundOutcome) -> dict[str, Any]:
    attributes: dict[str, Any] = {"status": {"S": outcome.status.value}}
    if outcome.fail_code:
        attributes["failCode"] = {"S": outcome.fail_code}
        attributes["failReason"] = {"S": outcome.fail_reason or ""}
    return attributes


def _bank_errors(call: Callable[P, R]) -> Callable[P, R]:
    """The simulator's own storage failing is the bank being unavailable, as a real
    acquirer's outage would be: a BankUnavailableError, never an AWS error."""

    @functools.wraps(call)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except (ClientError, BotoCoreError) as error:
            raise BankUnavailableError(f"the bank is unavailable ({describe(error)})") from None

    return guarded


class SimulatedBank:
    def __init__(
        self,
        client: DynamoDBClient,
        ledger_table: str,
        controls: BankControlPanel,
        *,
        timeout_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._ledger = ledger_table
        self._controls = controls
        self._timeout = timeout_seconds
        self._sleep = sleep

    def _answer_like_a_bank(self) -> BankControls:
        controls = self._controls.read()
        if controls.latency_ms:
            self._sleep(controls.latency_ms / 1000)
        if controls.outage:
            raise BankUnavailableError("the bank is unavailable (simulated outage)")
        return controls

    @_bank_errors
    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        controls = self._answer_like_a_bank()
        if controls.times_out(request.amount):
            self._sleep(self._timeout)
            raise BankTimeoutError(f"the bank did not answer within {self._timeout}s")
        entry = self._count_call(idempotency_key)
        if entry.outcome is not None:
            return entry.outcome
        if request.amount == FLAKY_AMOUNT and entry.calls <= FLAKY_FAILURES:
            raise BankUnavailableError("the bank is temporarily unavailable")
        if request.amount == PENDING_AMOUNT and entry.checks == 0:
            self._record_pending_check(idempotency_key, request.amount)
            return PENDING
        return self._record_outcome(idempotency_key, _decide(request.amount))

    @_bank_errors
    def inquire(self, idempotency_key: str) -> BankOutcome | None:
        self._answer_like_a_bank()
        entry = self.ledger_entry(idempotency_key)
        if entry is None:
            return None
        if entry.outcome is not None:
            return entry.outcome
        if entry.pending_amount is None:
            return None
        return self._record_outcome(idempotency_key, _decide(entry.pending_amount))

    @_bank_errors
    def void_unless_decided(self, idempotency_key: str) -> BankOutcome | None:
        self._answer_like_a_bank()
        outcome = self._record_outcome(idempotency_key, PROCESSING_FAILED, authorizes=False)
        return None if outcome == PROCESSING_FAILED else outcome

    @_bank_errors
    def capture(self, payment_id: str, amount: int, *, idempotency_key: str) -> None:
        self._operate("capture", payment_id, amount, idempotency_key, REFUND_SUCCEEDED)

    @_bank_errors
    def void(self, payment_id: str, *, idempotency_key: str) -> None:
        self._operate("void", payment_id, 0, idempotency_key, REFUND_SUCCEEDED)

    @_bank_errors
    def refund(self, payment_id: str, amount: int, *, idempotency_key: str) -> RefundOutcome:
        answer = REFUND_DECLINED if amount == REFUND_DECLINED_AMOUNT else REFUND_SUCCEEDED
        return self._operate("refund", payment_id, amount, idempotency_key, answer)

    def _operate(
        self, kind: str, payment_id: str, amount: int, key: str, answer: RefundOutcome
    ) -> RefundOutcome:
        """One operation, decided once per key: a repeat answers what was recorded."""
        controls = self._answer_like_a_bank()
        if controls.times_out(amount):
            self._sleep(self._timeout)
            raise BankTimeoutError(f"the bank did not answer within {self._timeout}s")
        entry = self._count_call(key)
        if entry.answer is not None:
            return entry.answer
        if amount == FLAKY_AMOUNT and entry.calls <= FLAKY_FAILURES:
            raise BankUnavailableError("the bank is temporarily unavailable")
        attributes = {"#answer": "answer"}
        values: dict[str, Any] = {
            ":answer": {"M": _outcome_attributes(answer)},
            ":kind": {"S": kind},
            ":payment": {"S": payment_id},
            ":moved": {"N": str(amount if answer.status is RefundStatus.SUCCEEDED else 0)},
        }
        try:
            self._client.update_item(
                TableName=self._ledger,
                Key={_LEDGER_KEY: {"S": key}},
                UpdateExpression=(
                    "SET #answer = :answer, kind = :kind, paymentId = :payment, moved = :moved"
                ),
                ConditionExpression="attribute_not_exists(#answer)",
                ExpressionAttributeNames=attributes,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            recorded = self.ledger_entry(key)
            if recorded is None or recorded.answer is None:
                raise
            return recorded.answer
        return answer

    def ledger_entry(self, idempotency_key: str) -> LedgerEntry | None:
        item = self._client.get_item(
            TableName=self._ledger,
            Key={_LEDGER_KEY: {"S": idempotency_key}},
            ConsistentRead=True,
        ).get("Item")
        return _entry_from_item(item) if item else None

    def _count_call(self, key: str) -> LedgerEntry:
        response = self._client.update_item(
            TableName=self._ledger,
            Key={_LEDGER_KEY: {"S": key}},
            UpdateExpression="ADD calls :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
        return _entry_from_item(response["Attributes"])

    def _record_pending_check(self, key: str, amount: int) -> None:
        self._client.update_item(
            TableName=self._ledger,
            Key={_LEDGER_KEY: {"S": key}},
            UpdateExpression="SET pendingAmount = :amount ADD checks :one",
            ExpressionAttributeValues={":one": {"N": "1"}, ":amount": {"N": str(amount)}},
        )

    def _record_outcome(
        self, key: str, outcome: BankOutcome, *, authorizes: bool = True
    ) -> BankOutcome:
        """Decide exactly once: the first outcome recorded for a key is the outcome (a void
        included, which authorizes nothing)."""
        names = {"#outcome": "outcome"}
        try:
            self._client.update_item(
                TableName=self._ledger,
                Key={_LEDGER_KEY: {"S": key}},
                UpdateExpression="SET #outcome = :outcome ADD authorizations :count",
                ConditionExpression="attribute_not_exists(#outcome)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":outcome": {"M": _outcome_attributes(outcome)},
                    ":count": {"N": "1" if authorizes else "0"},
                },
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            recorded = self.ledger_entry(key)
            if recorded is None or recorded.outcome is None:
                raise
            return recorded.outcome
        return outcome


def _decide(amount: int) -> BankOutcome:
    if amount == DECLINED_AMOUNT:
        return DECLINED
    if amount == INSUFFICIENT_FUNDS_AMOUNT:
        return INSUFFICIENT_FUNDS
    return ACCEPTED


def _entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    outcome = None
    if "outcome" in item:
        status, fail_code, fail_reason = _outcome_fields(item["outcome"]["M"])
        outcome = BankOutcome(PaymentStatus(status), fail_code, fail_reason)
    return LedgerEntry(
        idempotency_key=item[_LEDGER_KEY]["S"],
        calls=int(item.get("calls", {}).get("N", "0")),
        checks=int(item.get("checks", {}).get("N", "0")),
        outcome=outcome,
        authorizations=int(item.get("authorizations", {}).get("N", "0")),
        pending_amount=int(item["pendingAmount"]["N"]) if "pendingAmount" in item else None,
        answer=_answer_from(item["answer"]["M"]) if "answer" in item else None,
        moved=int(item.get("moved", {}).get("N", "0")),
    )


def _answer_from(stored: dict[str, Any]) -> RefundOutcome:
    status, fail_code, fail_reason = _outcome_fields(stored)
    return RefundOutcome(RefundStatus(status), fail_code, fail_reason)


def _outcome_fields(stored: dict[str, Any]) -> tuple[str, str | None, str | None]:
    return (
        stored["status"]["S"],
        stored.get("failCode", {}).get("S"),
        stored.get("failReason", {}).get("S"),
    )
