"""Reading AWS's errors: a lost conditional write, and what is worth trying again."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

# Throttling and service faults: the request may succeed if made again in a moment.
_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "LimitExceededException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "SlowDown",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_condition_failure(error: ClientError) -> bool:
    """A conditional write was refused: someone else changed the item first."""
    return error_code(error) == "ConditionalCheckFailedException"


def is_transient(error: BaseException) -> bool:
    """An AWS call failed for a reason that passes: throttled, timed out, a fault of the
    service, or the connection. Worth a retry (by the caller, or a 503 to the merchant)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(error) in _TRANSIENT_CODES or int(status) >= 500
    return isinstance(error, ConnectionError | HTTPClientError) or (
        isinstance(error, BotoCoreError) and "timeout" in type(error).__name__.lower()
    )


def describe(error: BaseException) -> str:
    """A short reason for ops (DLQ listing, logs) that never quotes request data: the AWS
    operation and error code, or just the type."""
    if isinstance(error, ClientError):
        operation = getattr(error, "operation_name", "") or "AWS call"
        return f"{operation} failed: {error_code(error) or 'error'}"
    if isinstance(error, BotoCoreError):
        return f"AWS call failed: {type(error).__name__}"
    return type(error).__name__
