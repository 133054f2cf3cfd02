"""The OpenAPI 3.1 document of the merchant API, generated from the request models the
handlers validate with (core/requests.py), the response models they answer with
(core/views.py), and the error types they answer errors with. `python -m handlers.openapi`
prints it; docs/openapi.json is its copy, and a test fails when that copy is stale.

Every operation carries an example that works as is on the local stack (whose docs page
puts a live payment id into the examples), so Swagger UI's "Try it out" succeeds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from core.domain.bank_simulation import (
    DECLINED_AMOUNT,
    FLAKY_AMOUNT,
    INSUFFICIENT_FUNDS_AMOUNT,
    PENDING_AMOUNT,
    TIMEOUT_AMOUNT,
)
from core.domain.payment import PaymentStatus
from core.domain.refunds import RefundStatus
from core.resources import LOCAL_API_PORT
from handlers import gateway_responses
from handlers.headers import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    REQUEST_ID_HEADER,
    RETRY_AFTER_HEADER,
)
from handlers.http_errors import HTTP_ERRORS, meaning_of
from handlers.limits import MAX_BODY_BYTES
from handlers.requests import (
    EXAMPLE_MERCHANT_ID,
    EXAMPLE_PAYMENT_ID,
    CapturePaymentRequest,
    CreatePaymentRequest,
    CreateWebhookEndpointRequest,
    GetPaymentQuery,
    ListPaymentsQuery,
    MakePaymentRequest,
    PaymentEventsQuery,
    RefundPaymentRequest,
    RotateWebhookSecretRequest,
    VoidPaymentRequest,
    WebhookEndpointQuery,
    WebhookEndpointsQuery,
)
from handlers.routes import (
    CAPTURE_PAYMENT,
    CREATE_PAYMENT,
    CREATE_WEBHOOK_ENDPOINT,
    DELETE_WEBHOOK_ENDPOINT,
    GET_PAYMENT,
    LIST_PAYMENT_EVENTS,
    LIST_PAYMENTS,
    LIST_WEBHOOK_ENDPOINTS,
    MAKE_PAYMENT,
    REFUND_PAYMENT,
    ROTATE_WEBHOOK_SECRET,
    ROUTES,
    VOID_PAYMENT,
    Route,
)
from handlers.views import (
    CreatedPayment,
    ErrorBody,
    PaymentEvents,
    PaymentPage,
    PaymentView,
    RefundAnswer,
    SubmittedPayment,
    WebhookEndpointList,
    WebhookEndpointView,
    WebhookEventPayload,
)

TITLE = "paygate merchant API"
VERSION = "1.0.0"
LOCAL_SERVER = f"http://127.0.0.1:{LOCAL_API_PORT}"
# A receiver on the developer's machine: the local stack takes loopback URLs over http.
LOCAL_WEBHOOK_URL = "http://127.0.0.1:3000/paygate/webhooks"
_REF = "#/components/schemas/{model}"
EXAMPLE_CREATED_AT = 1795747675

_STATUS_MEANINGS = {
    400: "A malformed body, query parameter or header",
    401: "No, malformed, unknown or revoked API key",
    403: "The merchantId is not the caller's",
    404: "Unknown, expired or another merchant's payment",
    409: "Conflicts with an earlier request for this payment or Idempotency-Key, or a limit",
    413: f"The body is over {MAX_BODY_BYTES // 1024} KiB",
    415: "The body is not application/json",
    422: "Invalid fields (`fields` names them), or an Idempotency-Key reused",
    429: "Too many requests for this merchant",
    500: "An internal error",
    503: "Retry: a service paygate depends on is busy, or the job is not queued yet",
}


@dataclass(frozen=True)
class Operation:
    """The documentation of one route of the registry (handlers/routes.py): the route gives
    its method, path and the statuses it may answer."""

    route: Route
    operation_id: str
    summary: str
    description: str
    success: int
    response: type[BaseModel]
    example: dict[str, Any]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    idempotent: bool = False
    # Answers Retry-After while the payment is in flight: when to poll again.
    paces_polling: bool = False
    body_example: dict[str, Any] | None = None


_MAKE_EXAMPLE = {
    "paymentId": EXAMPLE_PAYMENT_ID,
    "merchantId": EXAMPLE_MERCHANT_ID,
    "cardNumber": "4242424242424242",
    "cvv": "123",
    "expiryYear": 2035,
    "expiryMonth": 12,
    "currency": "EUR",
    "amount": 1250,
    "cardName": "Ada Lovelace",
    "billingAddress": "12 Analytical Row, London",
}
_VIEW_EXAMPLE = PaymentView(
    payment_id=EXAMPLE_PAYMENT_ID,
    merchant_id=EXAMPLE_MERCHANT_ID,
    status=PaymentStatus.ACCEPTED,
    creation_timestamp_seconds=EXAMPLE_CREATED_AT,
    card_number="************4242",
    expiry_year=2035,
    expiry_month=12,
    currency="EUR",
    amount=1250,
    card_name="Ada Lovelace",
    billing_address="12 Analytical Row, London",
).to_json()

_ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": "we_0123456789abcdef0123",
    "url": "https://shop.example.com/paygate/webhooks",
    "eventTypes": ["payment.accepted", "payment.declined"],
    "createdAt": EXAMPLE_CREATED_AT,
}
_EVENT_EXAMPLE: dict[str, Any] = {
    "id": f"evt_{EXAMPLE_PAYMENT_ID}_3",
    "type": "payment.accepted",
    "created": EXAMPLE_CREATED_AT + 2,
    "paymentId": EXAMPLE_PAYMENT_ID,
    "merchantId": EXAMPLE_MERCHANT_ID,
    "version": 3,
    "data": _VIEW_EXAMPLE,
}

OPERATIONS = (
    Operation(
        CREATE_PAYMENT,
        "createPayment",
        "Create a payment id (it expires after 10 minutes unused)",
        "Step 1: a new payment id for your merchant, in status Created. Submit its card with "
        "make-payment within 10 minutes; after that the id answers 404 everywhere.",
        201,
        CreatedPayment,
        CreatedPayment(
            payment_id=EXAMPLE_PAYMENT_ID,
            status=PaymentStatus.CREATED,
            creation_timestamp_seconds=EXAMPLE_CREATED_AT,
        ).to_json(),
        body=CreatePaymentRequest,
        idempotent=True,
    ),
    Operation(
        MAKE_PAYMENT,
        "makePayment",
        "Submit the card for a payment; the result comes later (poll get-payment)",
        "Step 2: the card is validated, encrypted and the payment queued for the bank: 202 "
        "Processing. Repeating the same request is safe (the same answer, nothing queued "
        "twice); the same payment id with other details, another card or CVV included, is "
        "409. The amount chooses what the simulated bank answers (see the amounts above).",
        202,
        SubmittedPayment,
        SubmittedPayment(payment_id=EXAMPLE_PAYMENT_ID, status=PaymentStatus.PROCESSING).to_json(),
        body=MakePaymentRequest,
        idempotent=True,
    ),
    Operation(
        GET_PAYMENT,
        "getPayment",
        "A payment, its card masked",
        "Step 3: poll until the status is final (Accepted, Declined, InsufficientFunds or "
        "Failed); failCode and failReason say why a payment was refused.",
        200,
        PaymentView,
        _VIEW_EXAMPLE,
        query=GetPaymentQuery,
        paces_polling=True,
    ),
    Operation(
        LIST_PAYMENTS,
        "listPayments",
        "The caller's payments, newest first, a page at a time",
        "Pass nextCursor back as cursor for the next page; it is null on the last page. A "
        "page may be shorter than limit (even empty) while nextCursor is set: keep following "
        "it. from and to are creation times in epoch seconds.",
        200,
        PaymentPage,
        {"payments": [_VIEW_EXAMPLE], "nextCursor": None},
        query=ListPaymentsQuery,
    ),
    Operation(
        CAPTURE_PAYMENT,
        "capturePayment",
        "Capture an Authorized payment, all or part (captureMethod manual)",
        "The capture is recorded and queued: 202 with the payment as it stands (`settling`: "
        "capture). The worker captures with the bank and the payment becomes Accepted with "
        "capturedAmount; a partial capture releases the rest. Only an Authorized payment with "
        "no capture or void under way can be captured (409 otherwise). A retry with the same "
        "Idempotency-Key answers the same and captures once.",
        202,
        PaymentView,
        _VIEW_EXAMPLE | {"status": "Authorized", "captureMethod": "manual", "settling": "capture"},
        body=CapturePaymentRequest,
        body_example={
            "merchantId": EXAMPLE_MERCHANT_ID,
            "paymentId": EXAMPLE_PAYMENT_ID,
            "amount": 1000,
        },
        idempotent=True,
    ),
    Operation(
        VOID_PAYMENT,
        "voidPayment",
        "Release an Authorized payment's hold (captureMethod manual)",
        "The void is recorded and queued: 202; the payment becomes Voided (event "
        "payment.voided). An authorization not captured within 7 days is voided by paygate "
        "(voidReason authorization_expired). 409 unless Authorized with nothing under way.",
        202,
        PaymentView,
        _VIEW_EXAMPLE | {"status": "Authorized", "captureMethod": "manual", "settling": "void"},
        body=VoidPaymentRequest,
        body_example={"merchantId": EXAMPLE_MERCHANT_ID, "paymentId": EXAMPLE_PAYMENT_ID},
        idempotent=True,
    ),
    Operation(
        REFUND_PAYMENT,
        "refundPayment",
        "Refund part or all of an Accepted payment",
        "The refund is recorded Pending and queued: 202 with its refundId. The worker asks "
        "the bank; the refund becomes Succeeded (event payment.refunded) or Failed (event "
        "refund.failed). Several partial refunds are allowed; the refunds that have not "
        "failed never sum past capturedAmount, however many are asked at once (the one that "
        "would is 409 refund_exceeds_captured). At most 50 refunds a payment. A retry with "
        "the same Idempotency-Key answers the same refund and refunds once. On the simulated "
        "bank a refund of 3 is declined; 503 and 504 behave as for payments.",
        202,
        RefundAnswer,
        RefundAnswer(
            refund_id="rf_0123456789abcdef0123456789abcdef",
            payment_id=EXAMPLE_PAYMENT_ID,
            amount=500,
            status=RefundStatus.PENDING,
        ).to_json(),
        body=RefundPaymentRequest,
        body_example={
            "merchantId": EXAMPLE_MERCHANT_ID,
            "paymentId": EXAMPLE_PAYMENT_ID,
            "amount": 500,
            "reason": "returned goods",
        },
        idempotent=True,
    ),
    Operation(
        CREATE_WEBHOOK_ENDPOINT,
        "createWebhookEndpoint",
        "Register a webhook endpoint: paygate POSTs each payment event to it",
        "Answers the endpoint with its signing secret, shown this once: keep it to verify "
        "the Paygate-Signature of each delivery. https only, to a public address. At most "
        "16 endpoints per merchant. A retry with the same Idempotency-Key answers the same "
        "endpoint and secret (kept encrypted for the replay) and adds no second endpoint.",
        201,
        WebhookEndpointView,
        _ENDPOINT_EXAMPLE | {"secret": "whsec_" + "x" * 43},
        body=CreateWebhookEndpointRequest,
        body_example={"merchantId": EXAMPLE_MERCHANT_ID, "url": _ENDPOINT_EXAMPLE["url"]},
        idempotent=True,
    ),
    Operation(
        LIST_WEBHOOK_ENDPOINTS,
        "listWebhookEndpoints",
        "The caller's webhook endpoints (never their secrets)",
        "Each endpoint with the event types it receives.",
        200,
        WebhookEndpointList,
        {"endpoints": [_ENDPOINT_EXAMPLE]},
        query=WebhookEndpointsQuery,
    ),
    Operation(
        DELETE_WEBHOOK_ENDPOINT,
        "deleteWebhookEndpoint",
        "Remove a webhook endpoint",
        "Nothing more is delivered to it, retries of earlier events included.",
        200,
        WebhookEndpointView,
        _ENDPOINT_EXAMPLE,
        query=WebhookEndpointQuery,
    ),
    Operation(
        ROTATE_WEBHOOK_SECRET,
        "rotateWebhookSecret",
        "A new signing secret for an endpoint (shown once)",
        "The previous secret keeps signing for 24 hours: each delivery then carries one v1 "
        "signature per secret, so switch your receiver over within the day. At most 3 "
        "secrets sign at once: a fourth rotation within the day retires the oldest at once. "
        "A retry with the same Idempotency-Key answers the same secret and rotates once.",
        200,
        WebhookEndpointView,
        _ENDPOINT_EXAMPLE | {"secret": "whsec_" + "y" * 43},
        body=RotateWebhookSecretRequest,
        body_example={"merchantId": EXAMPLE_MERCHANT_ID, "id": _ENDPOINT_EXAMPLE["id"]},
        idempotent=True,
    ),
    Operation(
        LIST_PAYMENT_EVENTS,
        "listPaymentEvents",
        "A payment's events, oldest first, with every delivery attempt",
        "What the payment went through (each status it reached) and what paygate did to tell "
        "you: each endpoint's state (retrying, delivered, failed after 3 days, or ended with "
        "a reason, such as the endpoint being removed) and attempts (time, HTTP status or "
        "error, milliseconds).",
        200,
        PaymentEvents,
        {"events": [_EVENT_EXAMPLE]},
        query=PaymentEventsQuery,
    ),
)


def fail_codes() -> dict[int, dict[str, str]]:
    """Every failCode the API answers, by HTTP status, with what it means: the one error
    table (handlers/http_errors.py), and the gateway's own answers."""
    codes: dict[int, dict[str, str]] = {}
    for kind, answer in HTTP_ERRORS.items():
        codes.setdefault(answer.status, {}).setdefault(answer.fail_code, meaning_of(kind))
    for name in dir(gateway_responses):
        response = getattr(gateway_responses, name)
        if isinstance(response, gateway_responses.GatewayResponse):
            codes.setdefault(response.status, {}).setdefault(
                response.fail_code, response.fail_reason
            )
    return {status: dict(sorted(found.items())) for status, found in sorted(codes.items())}


def _description() -> str:
    amounts = "\n".join(
        f"| {amount} | {what} |"
        for amount, what in (
            (DECLINED_AMOUNT, "Declined (`card_declined`)"),
            (INSUFFICIENT_FUNDS_AMOUNT, "InsufficientFunds (`insufficient_funds`)"),
            (PENDING_AMOUNT, "Pending, then Accepted on the worker's next check"),
            (FLAKY_AMOUNT, "the bank fails twice; the worker retries; Accepted"),
            (TIMEOUT_AMOUNT, "the bank never answers: the job goes to the DLQ"),
            ("any other", "Accepted"),
        )
    )
    codes = "\n".join(
        f"| {status} | `{code}` | {meaning} |"
        for status, found in fail_codes().items()
        for code, meaning in found.items()
    )
    return (
        "Create a payment id, submit its card, poll for the result:\n\n"
        "1. `POST /create-payment` → 201 `{paymentId, status: Created}`\n"
        "2. `POST /make-payment` with the card → 202 `{status: Processing}`\n"
        "3. `GET /get-payment` until the status is final: Accepted, Declined, "
        "InsufficientFunds, or Failed (not processed within 24 hours; never charged)\n\n"
        "**Authentication**: `Authorization: Bearer <API key>`. On the local stack the "
        "key is printed by `make run` (and kept in `.paygate/local.json`); ops issue keys "
        "with `paygate merchants create`. Use *Authorize* below with it.\n\n"
        "Amounts are integers in the currency's minor units. On the simulated bank the "
        "amount chooses the answer:\n\n| amount | result |\n| --- | --- |\n"
        f"{amounts}\n\n"
        "**Errors** are `{failCode, failReason, requestId}` (validation errors add "
        "`fields`); every response carries `Request-Id`. The failCodes:\n\n"
        f"| status | failCode | meaning |\n| --- | --- | --- |\n{codes}\n"
    )


def _schemas() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (ErrorBody, "serialization"),
        (WebhookEventPayload, "serialization"),
    ]
    for operation in OPERATIONS:
        models.append((operation.response, "serialization"))
        for request_model in (operation.body, operation.query):
            if request_model:
                models.append((request_model, "validation"))
    _, document = models_json_schema(models, ref_template=_REF)
    return dict(document.get("$defs", {}))


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, definition in schema["properties"].items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in definition.items() if k not in ("title", "description")},
        }
        if "description" in definition:
            parameter["description"] = definition["description"]
        if definition.get("examples"):
            parameter["example"] = definition["examples"][0]
        parameters.append(parameter)
    return parameters


def _headers(*names: str) -> dict[str, Any]:
    descriptions = {
        REQUEST_ID_HEADER: "This request's id: `requestId` of an error, correlation id in logs",
        REPLAYED_HEADER: "`true` when the answer is a replay for the same Idempotency-Key",
        RETRY_AFTER_HEADER: "Seconds to wait before retrying",
    }
    return {
        name: {"description": descriptions[name], "schema": {"type": "string"}} for name in names
    }


def _json(model: type[BaseModel], example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": {"$ref": _REF.format(model=model.__name__)}}
    if example is not None:
        content["example"] = example
    return {"application/json": content}


def _error_response(status: int) -> dict[str, Any]:
    codes = fail_codes().get(status, {})
    listed = ", ".join(f"`{code}`" for code in codes)
    headers = [REQUEST_ID_HEADER] + ([RETRY_AFTER_HEADER] if status == 503 else [])
    example_code = next(iter(codes), "internal_error")
    return {
        "description": f"{_STATUS_MEANINGS[status]}. failCode: {listed}",
        "headers": _headers(*headers),
        "content": _json(
            ErrorBody,
            {
                "failCode": example_code,
                "failReason": codes.get(example_code, ""),
                "requestId": "c0ffee00-0000-4000-8000-000000000000",
            },
        ),
    }


def _operation(operation: Operation) -> dict[str, Any]:
    parameters = _query_parameters(operation.query) if operation.query else []
    success_headers = [REQUEST_ID_HEADER]
    if operation.idempotent:
        success_headers.append(REPLAYED_HEADER)
        parameters.append(
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": "Replays the first answer for the same request (24 hours)",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    headers = _headers(*success_headers)
    if operation.paces_polling:
        headers[RETRY_AFTER_HEADER] = {
            "description": "Only while the payment is in flight (Processing or Pending): "
            "seconds until it may have changed. Poll again then, not sooner.",
            "schema": {"type": "string"},
        }
    responses: dict[str, Any] = {
        str(operation.success): {
            "description": operation.summary,
            "headers": headers,
            "content": _json(operation.response, operation.example),
        }
    }
    for status in sorted(operation.route.errors):
        responses[str(status)] = _error_response(status)
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": operation.description,
        "security": [{"apiKey": []}],
        "parameters": parameters,
        "responses": responses,
    }
    if operation.body:
        example = _MAKE_EXAMPLE if operation.body is MakePaymentRequest else None
        example = example or operation.body_example or {"merchantId": EXAMPLE_MERCHANT_ID}
        document["requestBody"] = {"required": True, "content": _json(operation.body, example)}
    return document


def _webhooks() -> dict[str, Any]:
    """OpenAPI 3.1's webhooks: what paygate POSTs to a merchant's endpoint."""
    return {
        "paymentEvent": {
            "post": {
                "operationId": "paymentEvent",
                "summary": "A payment reached a status",
                "description": "Sent to each of your endpoints that asked for its type, "
                "at least once and in no particular order: dedupe on the event id, order by "
                "version. Verify the Paygate-Signature first (HMAC-SHA256 of "
                '"<t>.<raw body>" with your secret; reject a t more than 5 minutes away). '
                "Answer 2xx within 10 seconds; anything else is retried with back-off for 3 "
                "days.",
                "parameters": [
                    {
                        "name": "Paygate-Signature",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                        "example": "t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e7"
                        "7a0e56ff536d0ce8e108d8bd",
                    },
                    {
                        "name": "Paygate-Event-Id",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                        "example": _EVENT_EXAMPLE["id"],
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": _json(WebhookEventPayload, _EVENT_EXAMPLE),
                },
                "responses": {"200": {"description": "Received (any 2xx)"}},
            }
        }
    }


def openapi_document(server_url: str = LOCAL_SERVER) -> dict[str, Any]:
    documented = {operation.route: operation for operation in OPERATIONS}
    paths: dict[str, Any] = {}
    for route in ROUTES:
        operation = documented[route]  # a KeyError names a route served but not documented
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": _description()},
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "webhooks": _webhooks(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer <your API key>",
                }
            },
        },
    }


@dataclass(frozen=True)
class LiveExample:
    """What the local stack's docs page puts into the examples so "Try it out" works as is:
    a payment just created, its merchant, and one of that merchant's webhook endpoints if it
    has one (none is created for the page: register one, then reload the page)."""

    payment_id: str
    merchant_id: str
    endpoint_id: str | None = None


def with_live_examples(document: dict[str, Any], live: LiveExample) -> str:
    """The document with live ids in its examples, and a webhook URL the local stack
    accepts (loopback over http; the example's host resolves nowhere)."""
    text = json.dumps(document, indent=2)
    text = text.replace(EXAMPLE_PAYMENT_ID, live.payment_id)
    text = text.replace(f'"{EXAMPLE_MERCHANT_ID}"', f'"{live.merchant_id}"')
    text = text.replace(_ENDPOINT_EXAMPLE["url"], LOCAL_WEBHOOK_URL)
    if live.endpoint_id:
        text = text.replace(_ENDPOINT_EXAMPLE["id"], live.endpoint_id)
    return text


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(openapi_document()), end="")
