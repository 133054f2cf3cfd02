"""GET /get-payment?merchantId=&paymentId=: the caller's payment, card masked."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from core.bootstrap import with_process_services
from core.observability import logger, metrics
from handlers.api import (
    api_entry_point,
    build_resolver,
    caller_merchant_id,
    json_response,
    parse_query,
    services_of,
)
from handlers.headers import RETRY_AFTER_HEADER
from handlers.requests import GetPaymentQuery
from handlers.routes import GET_PAYMENT
from handlers.views import PaymentView

app = build_resolver()


@app.serve(GET_PAYMENT)
def get_payment() -> Any:
    query = parse_query(app, GetPaymentQuery)
    logger.append_keys(paymentId=query.payment_id)
    service = services_of(app).payment_service
    payment = service.get_payment(caller_merchant_id(app), query.merchant_id, query.payment_id)
    metrics.add_metric(name="PaymentsRead", unit="Count", value=1)
    response = json_response(HTTPStatus.OK, PaymentView.of(payment).to_json())
    poll_after = service.poll_after_seconds(payment)
    if poll_after is not None:
        response.headers[RETRY_AFTER_HEADER] = str(poll_after)
    return response


handle = api_entry_point(app)
lambda_handler = with_process_services(handle, primes=GET_PAYMENT.use_case)
