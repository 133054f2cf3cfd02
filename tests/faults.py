"""Faults injected into real AWS calls (boto3 against moto), through botocore's public
events on one client, so the code under test runs unchanged:

- `throttle`: the call fails with a throttling error (as after botocore's own retries);
- `lose_response`: the call is applied, its answer is lost, and the call is made again
  (what botocore's retry does after a time-out): a conditional write then fails its
  condition against its own first attempt;
- `crash_after`: the call is applied, then the process dies (a BaseException that no
  `except Exception` catches, as nothing runs after a Lambda is killed).
Each fault lets `skip` calls through, fires a given number of times, then the calls go
through.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError


class SimulatedCrash(BaseException):
    """The process died here."""


class _Countdown:
    """Lets `skip` calls through, then fires `times` times."""

    def __init__(self, times: int, skip: int = 0) -> None:
        self.left = times
        self.skip = skip
        self.fired = 0

    def take(self) -> bool:
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.left <= 0:
            return False
        self.left -= 1
        self.fired += 1
        return True


def _service_id(client: Any) -> str:
    return str(client.meta.service_model.service_id).lower().replace(" ", "-")


def _method_name(client: Any, operation: str) -> str:
    mapping: dict[str, str] = client.meta.method_to_api_mapping
    return next(name for name, api in mapping.items() if api == operation)


@contextmanager
def _hooked(client: Any, event: str, handler: Any, countdown: _Countdown) -> Iterator[_Countdown]:
    client.meta.events.register(event, handler)
    try:
        yield countdown
    finally:
        client.meta.events.unregister(event, handler)


@contextmanager
def throttle(
    client: Any,
    operation: str,
    times: int = 1,
    code: str = "ThrottlingException",
    table: str | None = None,
) -> Iterator[_Countdown]:
    """`table`: only the calls on this DynamoDB table (the others go through)."""
    countdown = _Countdown(times)
    event = f"provide-client-params.{_service_id(client)}.{operation}"

    def fail(params: dict[str, Any], **_: Any) -> None:
        if (table is None or params.get("TableName") == table) and countdown.take():
            response: Any = {
                "Error": {"Code": code, "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            raise ClientError(response, operation)

    with _hooked(client, event, fail, countdown):
        yield countdown


@contextmanager
def lose_response(client: Any, operation: str, times: int = 1) -> Iterator[_Countdown]:
    """Apply the call once through a twin client, then let the real call run again."""
    countdown = _Countdown(times)
    twin = boto3.client(
        client.meta.service_model.service_name,
        region_name=client.meta.region_name,
        endpoint_url=client.meta.endpoint_url,
    )
    method = getattr(twin, _method_name(client, operation))
    event = f"provide-client-params.{_service_id(client)}.{operation}"

    def apply_first(params: dict[str, Any], **_: Any) -> None:
        if countdown.take():
            # If the first attempt fails on its own, no response was lost.
            with contextlib.suppress(ClientError):
                method(**params)

    with _hooked(client, event, apply_first, countdown):
        yield countdown


@contextmanager
def crash_after(client: Any, operation: str, times: int = 1, skip: int = 0) -> Iterator[_Countdown]:
    countdown = _Countdown(times, skip)
    event = f"after-call.{_service_id(client)}.{operation}"

    def die(**_: Any) -> None:
        if countdown.take():
            raise SimulatedCrash(f"crashed after {operation}")

    with _hooked(client, event, die, countdown):
        yield countdown


@contextmanager
def refuse_batch_entry(client: Any, body_contains: str, times: int = 1) -> Iterator[_Countdown]:
    """SQS refuses the entry of a SendMessageBatch whose body holds `body_contains` (it
    answers it in `Failed`, as an internal error) and sends the others."""
    countdown = _Countdown(times)
    refused = threading.local()
    sent = f"provide-client-params.{_service_id(client)}.SendMessageBatch"
    answered = f"after-call.{_service_id(client)}.SendMessageBatch"

    def drop(params: dict[str, Any], **_: Any) -> None:
        refused.ids = []
        kept = []
        for entry in params["Entries"]:
            if body_contains in entry["MessageBody"] and countdown.take():
                refused.ids.append(entry["Id"])
            else:
                kept.append(entry)
        params["Entries"] = kept

    def report_failed(parsed: dict[str, Any], **_: Any) -> None:
        for entry in getattr(refused, "ids", []):
            failure = {"Id": entry, "SenderFault": False, "Code": "InternalError"}
            parsed.setdefault("Failed", []).append(failure)
        refused.ids = []

    client.meta.events.register(answered, report_failed)
    try:
        with _hooked(client, sent, drop, countdown):
            yield countdown
    finally:
        client.meta.events.unregister(answered, report_failed)
