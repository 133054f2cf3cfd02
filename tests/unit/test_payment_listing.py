"""The listing use case on in-memory fakes: pages through sealed cursors, tenancy."""

from __future__ import annotations

import pytest

from core.domain.errors import InvalidCursorError, MerchantMismatchError
from core.use_cases.payment_listing import ListPayments
from tests.unit.use_case_world import MERCHANT, OTHER_MERCHANT, World


def test_the_listing_pages_newest_first_and_a_cursor_serves_only_its_merchant() -> None:
    world = World()
    made = []
    for _ in range(5):
        made.append(world.service.create_payment(MERCHANT, MERCHANT).payment_id)
        world.clock.advance(1)
    world.service.create_payment(OTHER_MERCHANT, OTHER_MERCHANT)

    seen, cursor = [], None
    while True:
        page, cursor = world.listing.list_payments(
            MERCHANT, ListPayments(MERCHANT, limit=2, cursor=cursor)
        )
        seen += [p.payment_id for p in page]
        if cursor is None:
            break
        with pytest.raises(InvalidCursorError):
            world.listing.list_payments(OTHER_MERCHANT, ListPayments(OTHER_MERCHANT, cursor=cursor))
        with pytest.raises(InvalidCursorError):
            world.listing.list_payments(MERCHANT, ListPayments(MERCHANT, cursor=cursor + "x"))

    assert seen == list(reversed(made))
    with pytest.raises(MerchantMismatchError):
        world.listing.list_payments(MERCHANT, ListPayments(OTHER_MERCHANT))
