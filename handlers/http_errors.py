"""The HTTP edge's errors, and the one table that answers every error with its status and
failCode: the handlers answer from it, and the OpenAPI document lists it, so the two
cannot differ."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.errors import (
    EndpointBusyError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    IdempotencyKeyUnusableError,
    InvalidCursorError,
    MerchantMismatchError,
    PaygateError,
    PaymentBusyError,
    PaymentConflictError,
    PaymentNotFoundError,
    QueueUnavailableError,
    TooManyEndpointsError,
    UnknownEndpointError,
)
from core.domain.payment import (
    CaptureExceedsAuthorizedError,
    NotCapturableError,
    NotRefundableError,
    RefundExceedsCapturedError,
    TooManyRefundsError,
)
from core.domain.webhook_urls import InvalidWebhookUrlError


@dataclass(frozen=True)
class FieldIssue:
    field: str
    issue: str


class MalformedRequestError(PaygateError):
    """The body is empty, not UTF-8 JSON, not a JSON object, or has a key twice."""

    def __init__(self, reason: str, fields: tuple[FieldIssue, ...] = ()) -> None:
        super().__init__(reason)
        self.fields = fields


class InvalidQueryError(MalformedRequestError):
    """A query parameter is missing or invalid (`fields` says which)."""


class RequestValidationFailedError(MalformedRequestError):
    """One or more fields are invalid (`fields` says which)."""


class CardDataInTextError(RequestValidationFailedError):
    """A card number was typed into a free-text field; it was not stored."""


class IdempotencyKeyInvalidError(PaygateError):
    """The Idempotency-Key is empty, too long, not ASCII, sent twice, or holds a card number."""


class UnauthorizedError(PaygateError):
    """No, malformed, unknown or revoked API key."""


class RouteNotFoundError(PaygateError):
    """No such route."""


class PayloadTooLargeError(PaygateError):
    """The body is larger than the API accepts."""


class UnsupportedMediaTypeError(PaygateError):
    """The body is not application/json."""


class ServiceUnavailableError(PaygateError):
    """A service paygate depends on is busy: retry after Retry-After seconds."""


class InternalError(PaygateError):
    """An internal error (a bug: the requestId finds it in the logs)."""


@dataclass(frozen=True)
class HttpError:
    status: int
    fail_code: str


HTTP_ERRORS: dict[type[PaygateError], HttpError] = {
    MalformedRequestError: HttpError(400, "malformed_request"),
    InvalidQueryError: HttpError(400, "invalid_query"),
    InvalidCursorError: HttpError(400, "invalid_query"),
    IdempotencyKeyInvalidError: HttpError(400, "invalid_idempotency_key"),
    UnauthorizedError: HttpError(401, "unauthorized"),
    MerchantMismatchError: HttpError(403, "merchant_mismatch"),
    PaymentNotFoundError: HttpError(404, "payment_not_found"),
    UnknownEndpointError: HttpError(404, "endpoint_not_found"),
    RouteNotFoundError: HttpError(404, "route_not_found"),
    PaymentConflictError: HttpError(409, "payment_conflict"),
    TooManyEndpointsError: HttpError(409, "too_many_endpoints"),
    EndpointBusyError: HttpError(409, "endpoint_busy"),
    IdempotencyKeyInUseError: HttpError(409, "idempotency_key_in_use"),
    NotCapturableError: HttpError(409, "payment_not_capturable"),
    CaptureExceedsAuthorizedError: HttpError(409, "capture_exceeds_authorized"),
    NotRefundableError: HttpError(409, "payment_not_refundable"),
    RefundExceedsCapturedError: HttpError(409, "refund_exceeds_captured"),
    TooManyRefundsError: HttpError(409, "too_many_refunds"),
    PayloadTooLargeError: HttpError(413, "payload_too_large"),
    UnsupportedMediaTypeError: HttpError(415, "unsupported_media_type"),
    RequestValidationFailedError: HttpError(422, "validation_failed"),
    CardDataInTextError: HttpError(422, "card_data_in_text"),
    IdempotencyKeyReusedError: HttpError(422, "idempotency_key_reused"),
    IdempotencyKeyUnusableError: HttpError(422, "idempotency_key_unusable"),
    InvalidWebhookUrlError: HttpError(422, "invalid_webhook_url"),
    InternalError: HttpError(500, "internal_error"),
    QueueUnavailableError: HttpError(503, "queue_unavailable"),
    ServiceUnavailableError: HttpError(503, "service_unavailable"),
    PaymentBusyError: HttpError(503, "payment_busy"),
}


def http_error_of(error: PaygateError) -> HttpError:
    """The status and failCode of an error: of its own type, or its nearest base's."""
    for kind in type(error).__mro__:
        if kind in HTTP_ERRORS:
            return HTTP_ERRORS[kind]
    return HTTP_ERRORS[InternalError]


def meaning_of(kind: type[PaygateError]) -> str:
    return (kind.__doc__ or "").strip().split("\n")[0]
