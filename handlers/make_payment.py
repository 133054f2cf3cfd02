"""POST /make-payment: validate and encrypt the card, mark the payment Processing, queue
the job, answer 202. The worker does the rest."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response

from core.bootstrap import with_process_services
from core.domain.clock import utc_today
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
from handlers.requests import MakePaymentRequest, ValidationContext
from handlers.routes import MAKE_PAYMENT
from handlers.views import SubmittedPayment

app = build_resolver()


@app.serve(MAKE_PAYMENT)
def make_payment() -> Any:
    deps = services_of(app)
    request = parse_json_body(
        app, MakePaymentRequest, ValidationContext(today=utc_today(deps.clock))
    )
    logger.append_keys(paymentId=request.payment_id)
    caller = caller_merchant_id(app)
    # Refused before the Idempotency-Key is claimed: a refusal holds no key.
    ensure_caller_is(caller, request.merchant_id)
    # Computed once: the digest tells a repeat from another request, here (Idempotency-Key)
    # and in the use case (409). It covers the whole request, card included, keyed.
    command = deps.request_digests.digested(request.command())

    def answer(_: Claim | None) -> Response[str]:
        payment = deps.payment_service.submit_payment(
            caller,
            command,
            correlation_id=app.current_event.request_context.request_id or "",
        )
        logger.info("payment submitted", extra={"status": payment.status.value})
        metrics.add_metric(name="PaymentsSubmitted", unit="Count", value=1)
        return json_response(
            HTTPStatus.ACCEPTED,
            SubmittedPayment(payment_id=payment.payment_id, status=payment.status).to_json(),
        )

    return answer_idempotently(
        app,
        route="make-payment",
        merchant_id=caller,
        request_fingerprint=command.digest,
        same_request=command.repeats,
        answer=answer,
    )


handle = api_entry_point(app)
lambda_handler = with_process_services(handle, primes=MAKE_PAYMENT.use_case)
