"""The errors of paygate's domain and use cases, by what went wrong; none knows HTTP. The
API answers each with its status and failCode from one table, handlers/http_errors.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.domain.payment import Payment


class PaygateError(Exception):
    """Something paygate answers a caller with: `reason` says it in words (never quoting
    request data); `field` names the request field at fault, if one is."""

    field: str | None = None

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidCursorError(PaygateError):
    """The cursor is not one this listing issued to this merchant."""

    field = "cursor"


class MerchantMismatchError(PaygateError):
    """The merchantId sent is not the caller's."""


class PaymentNotFoundError(PaygateError):
    """Unknown, expired, or another merchant's payment."""


class PaymentConflictError(PaygateError):
    """The payment was already submitted with other details."""


class PaymentBusyError(PaygateError):
    """The payment changed under this request too many times at once: retry shortly."""


class QueueUnavailableError(PaygateError):
    """Recorded but not queued yet: repeat the request to queue it, or poll."""


class IdempotencyKeyInUseError(PaygateError):
    """A request with this Idempotency-Key is still running: retry in a moment."""


class IdempotencyKeyReusedError(PaygateError):
    """This Idempotency-Key was used with another request.

    `held_request`: the fingerprint the key is held for (a digest, never the request)."""

    def __init__(self, reason: str, *, held_request: str = "") -> None:
        super().__init__(reason)
        self.held_request = held_request


class IdempotencyKeyUnusableError(PaygateError):
    """The answer kept for this Idempotency-Key cannot be read back: use a new key."""


class ConcurrentUpdateError(Exception):
    """A conditional write lost a race: someone else changed the payment first."""


class PaymentExistsError(Exception):
    """A payment with this id is stored already."""


class UnreadablePaymentError(Exception):
    """A stored item is not a payment we can read (damaged or from an unknown writer)."""


class BankUnavailableError(Exception):
    """A transient bank failure: worth retrying."""


class BankTimeoutError(BankUnavailableError):
    """The bank did not answer in time: worth retrying, the bank call is idempotent."""


class TransitionRejectedError(Exception):
    """make-payment's conditional update did not apply; `current` is the payment as it was
    (None if there is none)."""

    def __init__(self, current: Payment | None) -> None:
        super().__init__("payment is not an unexpired Created payment of this merchant")
        self.current = current


class MerchantExistsError(Exception):
    """A merchant with this id is registered already: ids are never reused."""


class UnknownMerchantError(Exception):
    pass


class UnknownKeyError(Exception):
    pass


class InvalidMerchantError(ValueError):
    """A merchant id the API could never accept, or a name that is not plain text."""


class TooManyEndpointsError(PaygateError):
    """A merchant has as many webhook endpoints as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} webhook endpoints per merchant: remove one first")


class UnknownEndpointError(PaygateError):
    """No such webhook endpoint of this merchant."""

    def __init__(self, endpoint_id: str) -> None:
        super().__init__(f"no webhook endpoint {endpoint_id}")


class EndpointBusyError(PaygateError):
    """Webhook endpoints kept changing while this request tried to change them."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is being changed by other requests: try again")
