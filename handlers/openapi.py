"""The OpenAPI 3.1 document of the merchant API, generated from the request models the
handlers validate with (core/requests.py) and the response models they answer with
(core/views.py). `python -m handlers.openapi` prints it; docs/openapi.json is its copy, and
a test fails when that copy is stale."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from core.requests import (
    CreatePaymentRequest,
    GetPaymentQuery,
    ListPaymentsQuery,
    MakePaymentRequest,
)
from core.views import CreatedPayment, ErrorBody, PaymentPage, PaymentView, SubmittedPayment
from handlers.headers import IDEMPOTENCY_HEADER, REPLAYED_HEADER, REQUEST_ID_HEADER

TITLE = "paygate merchant API"
VERSION = "1.0.0"
LOCAL_SERVER = "http://127.0.0.1:3000"
_REF = "#/components/schemas/{model}"

_ERRORS = {
    400: "The body is not a JSON object, or a query parameter or header is invalid",
    401: "No, malformed or unknown API key",
    403: "The merchantId is not the caller's",
    404: "Unknown, expired or another merchant's payment, or no such route",
    409: "Conflicts with an earlier request for this payment, or for this Idempotency-Key",
    413: "The body is over 16 KiB",
    415: "The body is not application/json",
    422: (
        "Invalid fields (`fields` names them), a card number typed into a text field "
        "(`card_data_in_text`), or an Idempotency-Key reused"
    ),
    429: "Too many requests for this merchant",
    500: "An internal error",
    503: (
        "A service paygate depends on is busy (`service_unavailable`: retry after "
        "`Retry-After` seconds), or make-payment recorded the payment but could not queue it "
        "yet (`queue_unavailable`: repeat the request, or poll get-payment)"
    ),
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    success: int
    response: type[BaseModel]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    idempotent: bool = False
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404, 413, 415, 422, 429, 500, 503))


OPERATIONS = (
    Operation(
        "post",
        "/create-payment",
        "createPayment",
        "Create a payment id (it expires after 10 minutes unused)",
        201,
        CreatedPayment,
        body=CreatePaymentRequest,
        idempotent=True,
    ),
    Operation(
        "post",
        "/make-payment",
        "makePayment",
        "Submit the card for a payment; the result comes later (poll get-payment)",
        202,
        SubmittedPayment,
        body=MakePaymentRequest,
        idempotent=True,
        errors=(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503),
    ),
    Operation(
        "get",
        "/get-payment",
        "getPayment",
        "A payment, its card masked",
        200,
        PaymentView,
        query=GetPaymentQuery,
    ),
    Operation(
        "get",
        "/list-payments",
        "listPayments",
        "The caller's payments, newest first, a page at a time",
        200,
        PaymentPage,
        query=ListPaymentsQuery,
    ),
)


def _schemas() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
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
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in definition.items() if k != "title"},
        }
        for name, definition in schema["properties"].items()
    ]


def _headers(*names: str) -> dict[str, Any]:
    descriptions = {
        REQUEST_ID_HEADER: "This request's id: `requestId` of an error, correlation id in logs",
        REPLAYED_HEADER: "`true` when the answer is a replay for the same Idempotency-Key",
    }
    return {
        name: {"description": descriptions[name], "schema": {"type": "string"}} for name in names
    }


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}}


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
    responses: dict[str, Any] = {
        str(operation.success): {
            "description": operation.summary,
            "headers": _headers(*success_headers),
            "content": _json(operation.response),
        }
    }
    for status in operation.errors:
        responses[str(status)] = {
            "description": _ERRORS[status],
            "headers": _headers(REQUEST_ID_HEADER) if status not in (401, 429) else {},
            "content": _json(ErrorBody),
        }
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "security": [{"apiKey": []}],
        "parameters": parameters,
        "responses": responses,
    }
    if operation.body:
        document["requestBody"] = {"required": True, "content": _json(operation.body)}
    return document


def openapi_document(server_url: str = LOCAL_SERVER) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Create a payment id, submit its card, poll for the result. Amounts are "
                "integers in the currency's minor units. Every error is "
                "`{failCode, failReason, requestId}`."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": paths,
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


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(openapi_document()), end="")
