"""POST /create-payment: a new payment id for the caller, valid for 10 minutes unused."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from core.bootstrap import with_process_services
from core.observability import logger, metrics
from core.requests import CreatePaymentRequest
from handlers.api import (
    api_entry_point,
    build_resolver,
    caller_merchant_id,
    json_response,
    parse_json_body,
    services_of,
)

app = build_resolver()


@app.post("/create-payment")
def create_payment() -> Any:
    request = parse_json_body(app, CreatePaymentRequest)
    payment = services_of(app).payment_service.create_payment(
        caller_merchant_id(app), request.merchant_id
    )
    logger.append_keys(paymentId=payment.payment_id)
    logger.info("payment created")
    metrics.add_metric(name="PaymentsCreated", unit="Count", value=1)
    return json_response(
        HTTPStatus.CREATED,
        {
            "paymentId": payment.payment_id,
            "status": payment.status.value,
            "creationTimestampSeconds": payment.created_at,
        },
    )


handle = api_entry_point(app)
lambda_handler = with_process_services(handle)
