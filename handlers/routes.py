"""The API's routes, written once. The handlers serve them (a resolver refuses any other),
the CDK stack builds a function and an API method for each, the local gateway and the
tests dispatch by them, the OpenAPI document and the bench list them.

Pure data: infra imports it without the runtime's dependencies."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

# What every POST and every GET may answer besides its own errors: the gateway's (401,
# 403, 413, 415, 429), malformed input (400, 422), and the retryable 500/503.
_POST_ERRORS = (400, 401, 403, 413, 415, 422, 429, 500, 503)
_GET_ERRORS = (400, 401, 403, 429, 500, 503)

EntryPoint = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    # The module that serves it: `handle(event, context, services)` for tests and the local
    # gateway, `lambda_handler` for Lambda.
    module: str
    construct_id: str
    # The composition root's component its handler calls (what a cold start builds).
    use_case: str
    # The HTTP statuses it may answer besides its success (their failCodes come from the
    # one error table, handlers/http_errors.py).
    errors: tuple[int, ...]

    @property
    def name(self) -> str:
        return self.path.lstrip("/")

    @property
    def lambda_handler(self) -> str:
        return f"{self.module}.lambda_handler"

    @property
    def takes_body(self) -> bool:
        return self.method == "POST"

    def entry_point(self) -> EntryPoint:
        """Its handler, imported on first use."""
        return cast(EntryPoint, importlib.import_module(self.module).handle)


CREATE_PAYMENT = Route(
    "POST",
    "/create-payment",
    "handlers.create_payment",
    "CreatePayment",
    "payment_service",
    (*_POST_ERRORS, 409),
)
MAKE_PAYMENT = Route(
    "POST",
    "/make-payment",
    "handlers.make_payment",
    "MakePayment",
    "payment_service",
    (*_POST_ERRORS, 404, 409),
)
GET_PAYMENT = Route(
    "GET",
    "/get-payment",
    "handlers.get_payment",
    "GetPayment",
    "payment_service",
    (*_GET_ERRORS, 404),
)
LIST_PAYMENTS = Route(
    "GET",
    "/list-payments",
    "handlers.list_payments",
    "ListPayments",
    "payment_listing",
    _GET_ERRORS,
)

ROUTES = (CREATE_PAYMENT, MAKE_PAYMENT, GET_PAYMENT, LIST_PAYMENTS)


def route_of(method: str, path: str) -> Route | None:
    return next((r for r in ROUTES if (r.method, r.path) == (method.upper(), path)), None)
