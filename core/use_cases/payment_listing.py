"""The merchant-facing listing: one merchant's payments, newest first, a page at a time."""

from __future__ import annotations

from core.adapters.dynamodb_payments import PaymentsRepository
from core.adapters.list_cursors import CursorCodec
from core.domain.clock import Clock, epoch_seconds
from core.domain.payment import Payment
from core.domain.tenancy import ensure_caller_is
from handlers.requests import ListPaymentsQuery


class PaymentListing:
    def __init__(
        self,
        *,
        payments: PaymentsRepository,
        cursors: CursorCodec,
        clock: Clock,
        payment_ttl_seconds: int,
    ) -> None:
        self._payments = payments
        self._cursors = cursors
        self._clock = clock
        self._ttl = payment_ttl_seconds

    def list_payments(
        self, caller: str, query: ListPaymentsQuery
    ) -> tuple[list[Payment], str | None]:
        """A page of the caller's payments, newest first, and the cursor of the next page
        (a page may be short, even empty, while a cursor says there is more to look at)."""
        ensure_caller_is(caller, query.merchant_id)
        now = epoch_seconds(self._clock)
        page = self._payments.list_for_merchant(
            merchant_id=caller,
            created_from=query.from_time or 0,
            created_to=query.to_time if query.to_time is not None else now + self._ttl,
            status=query.status,
            limit=query.limit,
            start_key=self._cursors.decode(query.cursor, caller) if query.cursor else None,
            now=now,
        )
        next_cursor = self._cursors.encode(caller, page.last_key) if page.last_key else None
        return page.payments, next_cursor
