"""Opaque list cursors: a listing position (opaque here too: the store's own encoding)
sealed with the merchant it was issued to, and signed (HMAC with a KMS key only the list
function may use). Any cursor not issued to this merchant's listing, forged or altered in
any way, is refused; and a position is only ever resumed inside that merchant's range."""

from __future__ import annotations

import base64
import binascii
import json
import re

from core.domain.errors import InvalidCursorError
from core.domain.ports import Mac

CURSOR_VERSION = 3
# Unpadded base64url payload "." unpadded base64url MAC: any other spelling is refused.
_CURSOR_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def _invalid() -> InvalidCursorError:
    return InvalidCursorError("the cursor is not valid for this listing")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


class SignedCursors:
    def __init__(self, mac: Mac) -> None:
        self._mac = mac

    def seal(self, merchant_id: str, position: str) -> str:
        document = {"v": CURSOR_VERSION, "m": merchant_id, "p": position}
        payload = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{self._mac.sign(payload)}"

    def open(self, cursor: str, merchant_id: str) -> str:
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
        except (ValueError, RecursionError):
            raise _invalid() from None
        valid = (
            isinstance(document, dict)
            and document.get("v") == CURSOR_VERSION
            and document.get("m") == merchant_id
            and isinstance(document.get("p"), str)
        )
        if not valid:
            raise _invalid()
        return str(document["p"])
