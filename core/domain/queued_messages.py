"""What every body we read off a queue must be before its fields are looked at: one short
JSON object. Any body is survivable (huge, binary, nested thousands deep): what is not one
is refused here, the same way for every kind of job."""

from __future__ import annotations

import json
from typing import Any

# Our jobs are small JSON objects; anything much larger is not one of ours.
MAX_QUEUED_BODY_CHARACTERS = 4096


def queued_json_object(body: object, kind: str) -> dict[str, Any]:
    """The JSON object `body` holds; ValueError ("not a <kind>: why") for anything else."""
    if not isinstance(body, str) or len(body) > MAX_QUEUED_BODY_CHARACTERS:
        raise ValueError(f"not a {kind}: a short JSON object")
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError(f"not a {kind}: not JSON") from None
    if not isinstance(data, dict):
        raise ValueError(f"not a {kind}: not a JSON object")
    return data
