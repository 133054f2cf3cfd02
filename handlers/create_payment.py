"""POST /create-payment: a new payment id for the caller, valid for 10 minutes unused."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response

from core.bootstrap import with_process_services
from core.domain.fingerprints import fingerprint
from core.domain.idempotency import Claim
from core.domain.tenancy import ensure_caller_is
from core.observability import logger, metrics
from handlers.api import (
    answer_idempotently,
    api_entry_point,
    build_resolver,
    caller_merchant_id,
    json_response,
    parse_json_body,
    services_of,
)
from handlers.requests import CreatePaymentRequest
from handlers.routes import CREATE_PAYMENT
from handlers.views import CreatedPayment

app = build_resolver()


@app.serve(CREATE_PAYMENT)
def create_payment() -> Any:
    request = parse_json_body(app, CreatePaymentRequest)
    caller = caller_merchant_id(app)
    # Refused before the Idempotency-Key is claimed: a refusal holds no key.
    ensure_caller_is(caller, request.merchant_id)

    def answer(claim: Claim | None) -> Response[str]:
        payment = services_of(app).payment_service.create_payment(
            caller, request.merchant_id, claim.claim_id if claim else None
        )
        logger.append_keys(paymentId=payment.payment_id)
        logger.info("payment created")
        metrics.add_metric(name="PaymentsCreated", unit="Count", value=1)
        return json_response(
            HTTPStatus.CREATED,
            CreatedPayment(
                payment_id=payment.payment_id,
                status=payment.status,
                creation_timestamp_seconds=payment.created_at,
            ).to_json(),
        )

    return answer_idempotently(
        app,
        route="create-payment",
        merchant_id=caller,
        request_fingerprint=fingerprint(request.model_dump(mode="json", by_alias=True)),
        answer=answer,
    )


handle = api_entry_point(app)
lambda_handler = with_process_services(handle, primes=CREATE_PAYMENT.use_case)
