"""GET /list-payments?merchantId=&from=&to=&status=&limit=&cursor=: the caller's payments,
newest first, a page at a time, cards masked."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from core.bootstrap import with_process_services
from core.observability import metrics
from handlers.api import (
    api_entry_point,
    build_resolver,
    caller_merchant_id,
    json_response,
    parse_query,
    services_of,
)
from handlers.requests import ListPaymentsQuery
from handlers.routes import LIST_PAYMENTS
from handlers.views import PaymentPage, PaymentView

app = build_resolver()


@app.serve(LIST_PAYMENTS)
def list_payments() -> Any:
    query = parse_query(app, ListPaymentsQuery)
    payments, next_cursor = services_of(app).payment_listing.list_payments(
        caller_merchant_id(app), query.listing()
    )
    metrics.add_metric(name="PaymentsListed", unit="Count", value=1)
    return json_response(
        HTTPStatus.OK,
        PaymentPage(
            payments=[PaymentView.of(p, processing=False) for p in payments],
            next_cursor=next_cursor,
        ).to_json(),
    )


handle = api_entry_point(app)
lambda_handler = with_process_services(handle, primes=LIST_PAYMENTS.use_case)
