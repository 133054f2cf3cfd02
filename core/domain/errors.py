"""Domain errors. Each carries the HTTP status and the machine-readable code it maps to;
the API maps them to responses in one place (handlers/api.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldIssue:
    field: str
    issue: str


class PaygateError(Exception):
    """An internal error (a bug: the requestId finds it in the logs)."""

    http_status = 500
    fail_code = "internal_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedRequestError(PaygateError):
    """The body is empty, not UTF-8 JSON, not a JSON object, or has a key twice."""

    http_status = 400
    fail_code = "malformed_request"

    def __init__(self, reason: str, fields: tuple[FieldIssue, ...] = ()) -> None:
        super().__init__(reason)
        self.fields = fields


class InvalidQueryError(MalformedRequestError):
    """A query parameter is missing or invalid (`fields` says which)."""

    http_status = 400
    fail_code = "invalid_query"


class RequestValidationFailedError(MalformedRequestError):
    """One or more fields are invalid (`fields` says which)."""

    http_status = 422
    fail_code = "validation_failed"


class CardDataInTextError(RequestValidationFailedError):
    """A card number was typed into a free-text field; it was not stored."""

    http_status = 422
    fail_code = "card_data_in_text"


class UnauthorizedError(PaygateError):
    """No, malformed, unknown or revoked API key."""

    http_status = 401
    fail_code = "unauthorized"


class MerchantMismatchError(PaygateError):
    """The merchantId sent is not the caller's."""

    http_status = 403
    fail_code = "merchant_mismatch"


class PaymentNotFoundError(PaygateError):
    """Unknown, expired, or another merchant's payment."""

    http_status = 404
    fail_code = "payment_not_found"


class RouteNotFoundError(PaygateError):
    """No such route."""

    http_status = 404
    fail_code = "route_not_found"


class PaymentConflictError(PaygateError):
    """The payment was already submitted with other details."""

    http_status = 409
    fail_code = "payment_conflict"


class PayloadTooLargeError(PaygateError):
    """The body is over 16 KiB."""

    http_status = 413
    fail_code = "payload_too_large"


class UnsupportedMediaTypeError(PaygateError):
    """The body is not application/json."""

    http_status = 415
    fail_code = "unsupported_media_type"


class QueueUnavailableError(PaygateError):
    """Recorded but not queued yet: repeat the request to queue it, or poll."""

    http_status = 503
    fail_code = "queue_unavailable"


class ServiceUnavailableError(PaygateError):
    """A service paygate depends on is busy: retry after Retry-After seconds."""

    http_status = 503
    fail_code = "service_unavailable"


class ConcurrentUpdateError(Exception):
    """A conditional write lost a race: someone else changed the payment first."""


class BankUnavailableError(Exception):
    """A transient bank failure: worth retrying."""


class BankTimeoutError(BankUnavailableError):
    """The bank did not answer in time: worth retrying, the bank call is idempotent."""
