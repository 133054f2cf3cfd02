"""Tenancy: a merchant acts only on its own payments."""

from __future__ import annotations

from core.domain.errors import MerchantMismatchError


def ensure_caller_is(caller_merchant_id: str, claimed_merchant_id: str) -> None:
    """A merchantId in a body or query must be the authenticated caller's (tenancy)."""
    if claimed_merchant_id != caller_merchant_id:
        raise MerchantMismatchError("merchantId does not match the authenticated merchant")
