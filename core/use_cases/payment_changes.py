"""A change of a payment that must land whatever else changes it meanwhile: written on the
version read, re-read and decided again when another write came first ("Optimistic
locking": never overwritten blindly). A refund asked for while the worker records another's
answer, or a capture's answer recorded while a refund is asked for, both land."""

from __future__ import annotations

from collections.abc import Callable

from core.domain.errors import ConcurrentUpdateError, PaymentBusyError, PaymentNotFoundError
from core.domain.payment import Payment
from core.domain.ports import PaymentStore

# Each lost race means another write landed: a payment sees few at once.
CHANGE_ATTEMPTS = 8


def apply_change(
    payments: PaymentStore, payment: Payment, change: Callable[[Payment], Payment | None]
) -> Payment:
    """`change` of the payment as it is (None: nothing left to do), written on its version;
    the payment as written. Raises what `change` raises (read again each time), and
    PaymentBusyError if it lost CHANGE_ATTEMPTS races in a row."""
    current = payment
    for _ in range(CHANGE_ATTEMPTS):
        after = change(current)
        if after is None:
            return current
        try:
            payments.save_transition(current, after)
            return after
        except ConcurrentUpdateError:
            found = payments.get(payment.payment_id)
            if found is None:
                raise PaymentNotFoundError("the payment is gone") from None
            current = found
    raise PaymentBusyError(f"payment {payment.payment_id} is changing: retry shortly")
