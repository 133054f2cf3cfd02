"""Telling our own conditional write from someone else's: each write stores a fresh token.
When its answer is lost and botocore's retry then fails the condition (against the first
attempt, applied), the item the failure returns (ReturnValuesOnConditionCheckFailure
ALL_OLD) carries our token: the write happened, it was no lost race."""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

WRITE_TOKEN = "writeToken"  # noqa: S105 (an attribute name, not a secret)


def new_write_token() -> str:
    return uuid.uuid4().hex


def written_by(item: dict[str, Any] | None, token: str) -> bool:
    return bool(item) and item.get(WRITE_TOKEN, {}).get("S") == token  # type: ignore[union-attr]


def refused_item_written_by(error: ClientError, token: str) -> bool:
    """Whether the item a refused conditional write returned carries `token`."""
    return written_by(error.response.get("Item"), token)  # type: ignore[arg-type]
