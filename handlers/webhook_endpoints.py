"""A merchant's webhook endpoints and its payments' event history:

- POST /webhook-endpoints {merchantId, url, eventTypes?}: 201, the endpoint and its
  signing secret (shown this once, and to a replay of the same Idempotency-Key);
- GET /webhook-endpoints?merchantId=: the endpoints (never a secret);
- DELETE /webhook-endpoints?merchantId=&id=: 200, the endpoint it removed;
- POST /rotate-webhook-secret {merchantId, id}: a new secret (shown once); the previous one
  keeps signing for 24 hours;
- GET /payment-events?merchantId=&paymentId=: the payment's events oldest first, each with
  its deliveries and their attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response

from core.bootstrap import with_process_services
from core.domain.fingerprints import fingerprint
from core.domain.idempotency import Claim
from core.domain.tenancy import ensure_caller_is
from core.observability import metrics
from core.use_cases.webhook_endpoints import IssuedSecret
from handlers.api import (
    answer_idempotently,
    api_entry_point,
    build_resolver,
    caller_merchant_id,
    json_response,
    parse_json_body,
    parse_query,
    services_of,
)
from handlers.requests import (
    CreateWebhookEndpointRequest,
    PaymentEventsQuery,
    RotateWebhookSecretRequest,
    WebhookEndpointQuery,
    WebhookEndpointsQuery,
)
from handlers.routes import (
    CREATE_WEBHOOK_ENDPOINT,
    DELETE_WEBHOOK_ENDPOINT,
    LIST_PAYMENT_EVENTS,
    LIST_WEBHOOK_ENDPOINTS,
    ROTATE_WEBHOOK_SECRET,
)
from handlers.views import PaymentEvents, WebhookEndpointList, WebhookEndpointView

app = build_resolver()


def _issue_secret_once(
    route: str,
    request: CreateWebhookEndpointRequest | RotateWebhookSecretRequest,
    status: HTTPStatus,
    issue: Callable[[str, Claim | None], IssuedSecret],
) -> Response[str]:
    """An endpoint and a secret shown once: honouring an Idempotency-Key, whose kept answer
    (the secret in it) is sealed. `issue` gets the caller and the key's claim."""
    caller = caller_merchant_id(app)
    # Refused before the Idempotency-Key is claimed: a refusal holds no key.
    ensure_caller_is(caller, request.merchant_id)

    def answer(claim: Claim | None) -> Response[str]:
        issued = issue(caller, claim)
        return json_response(
            status, WebhookEndpointView.of(issued.endpoint, issued.secret).to_json()
        )

    return answer_idempotently(
        app,
        route=route,
        merchant_id=caller,
        request_fingerprint=fingerprint(request.model_dump(mode="json", by_alias=True)),
        answer=answer,
        sealed=True,
    )


@app.serve(CREATE_WEBHOOK_ENDPOINT)
def create_webhook_endpoint() -> Any:
    request = parse_json_body(app, CreateWebhookEndpointRequest)

    def register(caller: str, claim: Claim | None) -> IssuedSecret:
        issued = services_of(app).webhook_endpoint_service.register(
            caller,
            request.merchant_id,
            request.url,
            tuple(request.event_types or ()),
            claim_id=claim.claim_id if claim else None,
        )
        metrics.add_metric(name="WebhookEndpointsCreated", unit="Count", value=1)
        return issued

    return _issue_secret_once("webhook-endpoints", request, HTTPStatus.CREATED, register)


@app.serve(LIST_WEBHOOK_ENDPOINTS)
def list_webhook_endpoints() -> Any:
    query = parse_query(app, WebhookEndpointsQuery)
    endpoints = services_of(app).webhook_endpoint_service.list_of(
        caller_merchant_id(app), query.merchant_id
    )
    listing = WebhookEndpointList(endpoints=[WebhookEndpointView.of(e) for e in endpoints])
    return json_response(HTTPStatus.OK, listing.to_json())


@app.serve(DELETE_WEBHOOK_ENDPOINT)
def delete_webhook_endpoint() -> Any:
    query = parse_query(app, WebhookEndpointQuery)
    removed = services_of(app).webhook_endpoint_service.remove(
        caller_merchant_id(app), query.merchant_id, query.id
    )
    return json_response(HTTPStatus.OK, WebhookEndpointView.of(removed).to_json())


@app.serve(ROTATE_WEBHOOK_SECRET)
def rotate_webhook_secret() -> Any:
    request = parse_json_body(app, RotateWebhookSecretRequest)

    def rotate(caller: str, claim: Claim | None) -> IssuedSecret:
        return services_of(app).webhook_endpoint_service.rotate(
            caller, request.merchant_id, request.id, claim_id=claim.claim_id if claim else None
        )

    return _issue_secret_once("rotate-webhook-secret", request, HTTPStatus.OK, rotate)


@app.serve(LIST_PAYMENT_EVENTS)
def list_payment_events() -> Any:
    query = parse_query(app, PaymentEventsQuery)
    events = services_of(app).webhook_endpoint_service.events_of(
        caller_merchant_id(app), query.merchant_id, query.payment_id
    )
    history = PaymentEvents(events=[event.to_json() for event in events])
    return json_response(HTTPStatus.OK, history.to_json())


handle = api_entry_point(app)
lambda_handler = with_process_services(handle, primes=CREATE_WEBHOOK_ENDPOINT.use_case)
