"""The one rule for reading a payment on a merchant's behalf, whatever the route: the
caller's own, visible now (an expired Created payment is gone), else 404. An item that
cannot be read is 404 too: it is nobody's to see, and the UnreadablePayments alarm is on."""

from __future__ import annotations

from core.domain.errors import PaymentNotFoundError, UnreadablePaymentError
from core.domain.payment import Payment
from core.domain.ports import PaymentStore
from core.domain.tenancy import ensure_caller_is
from core.observability import logger


def payment_not_found(payment_id: str) -> PaymentNotFoundError:
    return PaymentNotFoundError(f"payment {payment_id} was not found")


def visible_payment(
    payments: PaymentStore, caller: str, merchant_id: str, payment_id: str, now: int
) -> Payment:
    ensure_caller_is(caller, merchant_id)
    try:
        payment = payments.get(payment_id)
    except UnreadablePaymentError as error:
        logger.error("unreadable payment asked for", extra={"error": str(error)})
        raise payment_not_found(payment_id) from None
    if payment is None or not payment.visible_to(caller, now):
        raise payment_not_found(payment_id)
    return payment
