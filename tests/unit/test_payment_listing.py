"""The listing use case on in-memory fakes: pages through sealed cursors, tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from core.domain.errors import InvalidCursorError, MerchantMismatchError
from core.domain.payment import PaymentStatus
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


def test_a_listing_keeps_to_the_window_and_the_status_asked_for() -> None:
    # GIVEN three payments made a minute apart, the middle one submitted (Processing)
    world = World()
    first = world.service.create_payment(MERCHANT, MERCHANT)
    world.clock.advance(60)
    middle = world.submitted()
    world.clock.advance(60)
    last = world.service.create_payment(MERCHANT, MERCHANT)

    def listed(**query: Any) -> list[str]:
        page, _ = world.listing.list_payments(MERCHANT, ListPayments(MERCHANT, **query))
        return [payment.payment_id for payment in page]

    # THEN a window holds the payments created in it, its ends included; a status, its own
    assert listed(created_to=first.created_at) == [first.payment_id]
    assert listed(created_from=middle.created_at) == [last.payment_id, middle.payment_id]
    assert listed(created_from=middle.created_at, created_to=middle.created_at) == [
        middle.payment_id
    ]
    assert listed(status=PaymentStatus.PROCESSING) == [middle.payment_id]
    assert listed(status=PaymentStatus.CREATED) == [last.payment_id, first.payment_id]
