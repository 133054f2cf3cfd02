"""Opaque list cursors. A cursor names where the previous page of one merchant's listing
stopped. It is signed (HMAC with a KMS key only the list function may use), so a cursor that
is not one we issued to this merchant, forged or altered in any way, is refused as invalid;
and it is only ever resumed inside that merchant's key range."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from core.adapters.kms_mac import KmsMac
from core.domain.errors import FieldIssue, InvalidQueryError

CURSOR_VERSION = 2
# Unpadded base64url payload "." unpadded base64url MAC: any other spelling is refused.
_CURSOR_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_KEY_TYPES = {"paymentId": "S", "merchantId": "S", "createdAt": "N"}


def _invalid() -> InvalidQueryError:
    return InvalidQueryError(
        "the cursor is not valid for this listing",
        (FieldIssue("cursor", "not a cursor from this listing"),),
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


class CursorCodec:
    def __init__(self, mac: KmsMac) -> None:
        self._mac = mac

    def encode(self, merchant_id: str, last_key: dict[str, Any]) -> str:
        position = {name: last_key[name][kind] for name, kind in _KEY_TYPES.items()}
        document = {"v": CURSOR_VERSION, "m": merchant_id, "p": position}
        payload = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{self._mac.sign(payload)}"

    def decode(self, cursor: str, merchant_id: str) -> dict[str, Any]:
        """The DynamoDB start key the cursor stands for; InvalidQueryError if it is not one
        this listing issued to this merchant, exactly as issued."""
        if not _CURSOR_SHAPE.match(cursor):
            raise _invalid()
        encoded, _, mac = cursor.partition(".")
        try:
            payload = _unb64(encoded)
        except (binascii.Error, ValueError):
            raise _invalid() from None
        if _b64(payload) != encoded or not self._mac.verify(payload, mac):
            raise _invalid()
        try:
            document = json.loads(payload)
            position = document["p"]
            valid = (
                document.get("v") == CURSOR_VERSION
                and document.get("m") == merchant_id
                and position.get("merchantId") == merchant_id
                and isinstance(position.get("paymentId"), str)
                and str(position.get("createdAt", "")).isascii()
                and str(position.get("createdAt", "")).isdigit()
            )
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            raise _invalid() from None
        if not valid:
            raise _invalid()
        return {name: {kind: str(position[name])} for name, kind in _KEY_TYPES.items()}
