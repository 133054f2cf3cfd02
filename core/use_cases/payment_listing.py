"""The merchant-facing listing: one merchant's payments, newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.clock import Clock, epoch_seconds
from core.domain.payment import Payment, PaymentStatus
from core.domain.ports import CursorSealer, PaymentStore
from core.domain.tenancy import ensure_caller_is


@dataclass(frozen=True)
class ListPayments:
    """A listing request: whose, which window (epoch seconds), which status, how many, and
    where to go on from (the previous page's cursor)."""

    merchant_id: str
    created_from: int | None = None
    created_to: int | None = None
    status: PaymentStatus | None = None
    limit: int = 20
    cursor: str | None = None


class PaymentListing:
    def __init__(
        self,
        *,
        payments: PaymentStore,
        cursors: CursorSealer,
        clock: Clock,
        payment_ttl_seconds: int,
    ) -> None:
        self._payments = payments
        self._cursors = cursors
        self._clock = clock
        self._ttl = payment_ttl_seconds

    def list_payments(self, caller: str, query: ListPayments) -> tuple[list[Payment], str | None]:
        """A page of the caller's payments, newest first, and the cursor of the next page
        (a page may be short, even empty, while a cursor says there is more to look at)."""
        ensure_caller_is(caller, query.merchant_id)
        now = epoch_seconds(self._clock)
        page = self._payments.list_for_merchant(
            merchant_id=caller,
            created_from=query.created_from or 0,
            created_to=query.created_to if query.created_to is not None else now + self._ttl,
            status=query.status,
            limit=query.limit,
            after=self._cursors.open(query.cursor, caller) if query.cursor else None,
            now=now,
        )
        position = page.next_position
        return page.payments, self._cursors.seal(caller, position) if position else None
