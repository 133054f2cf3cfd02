"""Domain errors. Each carries the HTTP status and the machine-readable code it maps to;
the API maps them to responses in one place (handlers/api.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldIssue:
    field: str
    issue: str


class PaygateError(Exception):
    http_status = 500
    fail_code = "internal_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedRequestError(PaygateError):
    http_status = 400
    fail_code = "malformed_request"

    def __init__(self, reason: str, fields: tuple[FieldIssue, ...] = ()) -> None:
        super().__init__(reason)
        self.fields = fields


class InvalidQueryError(MalformedRequestError):
    http_status = 400
    fail_code = "invalid_query"


class RequestValidationFailedError(MalformedRequestError):
    http_status = 422
    fail_code = "validation_failed"


class CardDataInTextError(RequestValidationFailedError):
    """A card number typed into a free-text field: refused, never stored."""

    http_status = 422
    fail_code = "card_data_in_text"


class UnauthorizedError(PaygateError):
    http_status = 401
    fail_code = "unauthorized"


class MerchantMismatchError(PaygateError):
    http_status = 403
    fail_code = "merchant_mismatch"


class PaymentNotFoundError(PaygateError):
    http_status = 404
    fail_code = "payment_not_found"


class RouteNotFoundError(PaygateError):
    http_status = 404
    fail_code = "route_not_found"


class PaymentConflictError(PaygateError):
    http_status = 409
    fail_code = "payment_conflict"


class PayloadTooLargeError(PaygateError):
    http_status = 413
    fail_code = "payload_too_large"


class UnsupportedMediaTypeError(PaygateError):
    http_status = 415
    fail_code = "unsupported_media_type"


class QueueUnavailableError(PaygateError):
    """The payment was recorded but its job could not be queued; the reconciler will."""

    http_status = 503
    fail_code = "queue_unavailable"


class ServiceUnavailableError(PaygateError):
    """An AWS service we depend on is throttling or failing for a moment; nothing was
    changed that a retry would not finish."""

    http_status = 503
    fail_code = "service_unavailable"


class ConcurrentUpdateError(Exception):
    """A conditional write lost a race: someone else changed the payment first."""


class BankUnavailableError(Exception):
    """A transient bank failure: worth retrying."""


class BankTimeoutError(BankUnavailableError):
    """The bank did not answer in time: worth retrying, the bank call is idempotent."""
