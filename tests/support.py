"""Test helpers: an injected clock, a Lambda context, API Gateway events, and a scanner
for card data in anything a test captured."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import Binary

from cli.lambda_emulation import ApiStage, api_gateway_event
from cli.lambda_emulation import authorizer_event as lambda_authorizer_event
from cli.lambda_emulation import lambda_context as local_lambda_context
from cli.local_api import response_headers

SENTINEL_PAN = "4927381603901543"
SENTINEL_CVV = "8253"
SENTINEL_LAST_FOUR = "1543"
ACCOUNT_ID = "123456789012"
API_ID = "paygateapi"
STAGE = "test"


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def lambda_context(remaining_seconds: float = 30.0) -> LambdaContext:
    return local_lambda_context("paygate-test", remaining_seconds)


TEST_STAGE = ApiStage(account_id=ACCOUNT_ID, api_id=API_ID, stage=STAGE)


def api_event(
    method: str,
    path: str,
    *,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    multi_value_headers: dict[str, list[str]] | None = None,
    query: dict[str, str] | None = None,
    merchant_id: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the authorizer-fronted API delivers it."""
    return api_gateway_event(
        TEST_STAGE,
        method,
        path,
        request_id=request_id or str(uuid.uuid4()),
        headers=headers if headers is not None else {"Content-Type": "application/json"},
        multi_value_headers=multi_value_headers,
        query=query,
        body=body,
        authorizer_context={"merchantId": merchant_id} if merchant_id else None,
    )


def authorizer_event(headers: dict[str, str] | None) -> dict[str, Any]:
    return lambda_authorizer_event(
        TEST_STAGE, "POST", "/make-payment", request_id=str(uuid.uuid4()), headers=headers
    )


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


def to_api_response(raw: dict[str, Any]) -> ApiResponse:
    text = raw.get("body") or ""
    return ApiResponse(
        status=int(raw["statusCode"]),
        body=json.loads(text) if text else None,
        headers=response_headers(raw),
    )


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.items() for part in item for text in _strings_in(part)]
    if isinstance(value, list | tuple | set):
        return [text for item in value for text in _strings_in(item)]
    if isinstance(value, Binary):
        return [value.value.decode("latin-1")]  # type: ignore[attr-defined]
    if isinstance(value, bytes):
        return [value.decode("latin-1")]
    return [str(value)]


# A token of its own: not inside a longer number, a word, a UUID group or a decimal.
_CVV_TOKEN = re.compile(rf"(?<![0-9A-Za-z.\-]){SENTINEL_CVV}(?![0-9A-Za-z.\-])")


def card_data_leaks(*captured: Any) -> list[str]:
    """Every string in `captured` (nested maps, lists, bytes too) that shows the sentinel
    PAN, even spaced or dashed, or the sentinel CVV as a token of its own."""
    leaks = []
    for text in (text for value in captured for text in _strings_in(value)):
        squeezed = re.sub(r"[\s\-]", "", text)
        if SENTINEL_PAN in squeezed or _CVV_TOKEN.search(text):
            leaks.append(text)
    return leaks


def one_request_at_a_time(session: boto3.session.Session) -> boto3.session.Session:
    """Make in-process moto answer the clients of `session` one request at a time.

    DynamoDB applies each conditional write atomically; moto in-process does not lock, so
    two threads could both pass the same condition. Through botocore's public events: the
    first `before-send` handler (ahead of moto's, which answers the request) takes the
    lock, `response-received` (emitted once the attempt is answered or failed) gives it
    back."""
    lock = threading.RLock()
    held = threading.local()

    def take(**_: Any) -> None:
        lock.acquire()
        held.count = getattr(held, "count", 0) + 1

    def give_back(**_: Any) -> None:
        if getattr(held, "count", 0) > 0:
            held.count -= 1
            lock.release()

    session.events.register_first("before-send", take)
    session.events.register_last("response-received", give_back)
    return session


def alter_cursor(cursor: str, change: Callable[[dict[str, Any], dict[str, Any]], None]) -> str:
    """A cursor whose payload (the document, and its position) `change` altered, with the
    original signature kept: what a forger can make without the key."""
    payload, _, signature = cursor.partition(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    position = json.loads(document["p"])
    change(document, position)
    document["p"] = json.dumps(position)
    forged = base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")
    return f"{forged}.{signature}"
