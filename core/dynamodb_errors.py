"""Reading DynamoDB's errors, for the adapters that write conditionally."""

from __future__ import annotations

from botocore.exceptions import ClientError


def is_condition_failure(error: ClientError) -> bool:
    """A conditional write was refused: someone else changed the item first."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
