"""Opaque list cursors. A cursor names where the previous page of one merchant's listing
stopped; it is only ever resumed inside that merchant's key range, so even a forged one
cannot reach another merchant's payments. One that is not ours is refused as invalid."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from core.errors import FieldIssue, InvalidQueryError

CURSOR_VERSION = 1
_KEY_TYPES = {"paymentId": "S", "merchantId": "S", "createdAt": "N"}


def _invalid() -> InvalidQueryError:
    return InvalidQueryError(
        "the cursor is not valid for this listing",
        (FieldIssue("cursor", "not a cursor from this listing"),),
    )


def encode_cursor(merchant_id: str, last_key: dict[str, Any]) -> str:
    position = {name: last_key[name][kind] for name, kind in _KEY_TYPES.items()}
    document = {"v": CURSOR_VERSION, "m": merchant_id, "p": position}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, merchant_id: str) -> dict[str, Any]:
    """The DynamoDB start key the cursor stands for; InvalidQueryError if it is not one of
    this merchant's cursors."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = document["p"]
        valid = (
            document.get("v") == CURSOR_VERSION
            and document.get("m") == merchant_id
            and position.get("merchantId") == merchant_id
            and isinstance(position.get("paymentId"), str)
            and str(position.get("createdAt", "")).isdigit()
        )
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        raise _invalid() from None
    if not valid:
        raise _invalid()
    return {name: {kind: str(position[name])} for name, kind in _KEY_TYPES.items()}
