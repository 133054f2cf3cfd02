"""POST /capture-payment, /void-payment, /refund-payment: what a merchant asks of a payment
after its authorization. Each is recorded on the payment (its rule checked in the same
conditional write), queued, and answered 202; the worker asks the bank
(core/use_cases/payment_operations.py). Each route is a function of its own."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response

from core.bootstrap import with_process_services
from core.domain.fingerprints import fingerprint
from core.domain.idempotency import Claim
from core.domain.tenancy import ensure_caller_is
from core.observability import logger
from handlers.api import (
    answer_idempotently,
    api_entry_point,
    build_resolver,
    caller_merchant_id,
    json_response,
    parse_json_body,
    services_of,
)
from handlers.requests import (
    CapturePaymentRequest,
    PaymentOperationRequest,
    RefundPaymentRequest,
    VoidPaymentRequest,
)
from handlers.routes import CAPTURE_PAYMENT, REFUND_PAYMENT, VOID_PAYMENT, Route
from handlers.views import PaymentView, RefundAnswer

app = build_resolver()


def _answered(
    route: Route,
    request: PaymentOperationRequest,
    answer: Callable[[str, Claim | None], dict[str, Any]],
) -> Response[str]:
    """The caller checked before the Idempotency-Key is claimed (a refusal holds no key),
    then `answer(caller, claim)`, 202, kept for the key."""
    caller = caller_merchant_id(app)
    ensure_caller_is(caller, request.merchant_id)
    logger.append_keys(paymentId=request.payment_id)

    def accepted(claim: Claim | None) -> Response[str]:
        return json_response(HTTPStatus.ACCEPTED, answer(caller, claim))

    return answer_idempotently(
        app,
        route=route.name,
        merchant_id=caller,
        request_fingerprint=fingerprint(request.model_dump(mode="json", by_alias=True)),
        answer=accepted,
    )


def _request_id() -> str:
    return app.current_event.request_context.request_id or ""


@app.serve(CAPTURE_PAYMENT)
def capture_payment() -> Any:
    request = parse_json_body(app, CapturePaymentRequest)

    def answer(caller: str, _: Claim | None) -> dict[str, Any]:
        payment = services_of(app).payment_operations.capture(
            caller, request.merchant_id, request.payment_id, request.amount, _request_id()
        )
        logger.info("capture asked for")
        return PaymentView.of(payment).to_json()

    return _answered(CAPTURE_PAYMENT, request, answer)


@app.serve(VOID_PAYMENT)
def void_payment() -> Any:
    request = parse_json_body(app, VoidPaymentRequest)

    def answer(caller: str, _: Claim | None) -> dict[str, Any]:
        payment = services_of(app).payment_operations.void(
            caller, request.merchant_id, request.payment_id, _request_id()
        )
        logger.info("void asked for")
        return PaymentView.of(payment).to_json()

    return _answered(VOID_PAYMENT, request, answer)


@app.serve(REFUND_PAYMENT)
def refund_payment() -> Any:
    request = parse_json_body(app, RefundPaymentRequest)

    def answer(caller: str, claim: Claim | None) -> dict[str, Any]:
        payment, refund = services_of(app).payment_operations.refund(
            caller,
            request.merchant_id,
            request.payment_id,
            request.amount,
            request.reason,
            _request_id(),
            claim.claim_id if claim else None,
        )
        logger.info("refund asked for", extra={"refundId": refund.refund_id})
        return RefundAnswer(
            refund_id=refund.refund_id,
            payment_id=payment.payment_id,
            amount=refund.amount,
            status=refund.status,
        ).to_json()

    return _answered(REFUND_PAYMENT, request, answer)


handle = api_entry_point(app)
lambda_handler = with_process_services(handle, primes=CAPTURE_PAYMENT.use_case)
