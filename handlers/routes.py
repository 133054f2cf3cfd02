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
    # Started from a SnapStart snapshot where a stage has it (infra/stages.py): every route,
    # the webhook settings too (called now and then, so nearly every call is a cold start).
    snap_start: bool = True

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

# What a merchant asks of a payment after its authorization: one module, a function each.
_OPERATIONS_MODULE = "handlers.payment_operations"
CAPTURE_PAYMENT = Route(
    "POST",
    "/capture-payment",
    _OPERATIONS_MODULE,
    "CapturePayment",
    "payment_operations",
    (*_POST_ERRORS, 404, 409),
)
VOID_PAYMENT = Route(
    "POST",
    "/void-payment",
    _OPERATIONS_MODULE,
    "VoidPayment",
    "payment_operations",
    (*_POST_ERRORS, 404, 409),
)
REFUND_PAYMENT = Route(
    "POST",
    "/refund-payment",
    _OPERATIONS_MODULE,
    "RefundPayment",
    "payment_operations",
    (*_POST_ERRORS, 404, 409),
)
OPERATION_ROUTES = (CAPTURE_PAYMENT, VOID_PAYMENT, REFUND_PAYMENT)

# Webhooks: one module serves a merchant's endpoints, each route its own function.
_ENDPOINTS_MODULE = "handlers.webhook_endpoints"
_ENDPOINTS_USE_CASE = "webhook_endpoint_service"
CREATE_WEBHOOK_ENDPOINT = Route(
    "POST",
    "/webhook-endpoints",
    _ENDPOINTS_MODULE,
    "CreateWebhookEndpoint",
    _ENDPOINTS_USE_CASE,
    (*_POST_ERRORS, 409),
)
LIST_WEBHOOK_ENDPOINTS = Route(
    "GET",
    "/webhook-endpoints",
    _ENDPOINTS_MODULE,
    "ListWebhookEndpoints",
    _ENDPOINTS_USE_CASE,
    _GET_ERRORS,
)
DELETE_WEBHOOK_ENDPOINT = Route(
    "DELETE",
    "/webhook-endpoints",
    _ENDPOINTS_MODULE,
    "DeleteWebhookEndpoint",
    _ENDPOINTS_USE_CASE,
    (*_GET_ERRORS, 404, 409),
)
ROTATE_WEBHOOK_SECRET = Route(
    "POST",
    "/rotate-webhook-secret",
    _ENDPOINTS_MODULE,
    "RotateWebhookSecret",
    _ENDPOINTS_USE_CASE,
    (*_POST_ERRORS, 404, 409),
)
LIST_PAYMENT_EVENTS = Route(
    "GET",
    "/payment-events",
    _ENDPOINTS_MODULE,
    "ListPaymentEvents",
    _ENDPOINTS_USE_CASE,
    (*_GET_ERRORS, 404),
)
WEBHOOK_ROUTES = (
    CREATE_WEBHOOK_ENDPOINT,
    LIST_WEBHOOK_ENDPOINTS,
    DELETE_WEBHOOK_ENDPOINT,
    ROTATE_WEBHOOK_SECRET,
    LIST_PAYMENT_EVENTS,
)

ROUTES = (
    CREATE_PAYMENT,
    MAKE_PAYMENT,
    GET_PAYMENT,
    LIST_PAYMENTS,
    *OPERATION_ROUTES,
    *WEBHOOK_ROUTES,
)


def route_of(method: str, path: str) -> Route | None:
    return next((r for r in ROUTES if (r.method, r.path) == (method.upper(), path)), None)
