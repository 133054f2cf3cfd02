"""When to look at an in-flight payment again: the worker's Pending re-checks back off, and a
merchant polling get-payment is told (Retry-After) when a new answer can come, so
well-behaved clients poll about once per change instead of in a tight loop."""

from __future__ import annotations

from core.domain.payment import Payment, PaymentStatus

MIN_POLL_SECONDS = 1
MAX_PROCESSING_POLL_SECONDS = 60


def recheck_delay_seconds(checks: int, base: int, cap: int) -> int:
    """Back-off for Pending re-checks: base, 2x base, 4x base, ... never above cap."""
    return int(min(cap, base * 2 ** max(0, checks - 1)))


def poll_after_seconds(
    payment: Payment, now: int, *, recheck_base: int, recheck_cap: int
) -> int | None:
    """Seconds until a poll may find the payment changed; None once it is final (or still
    Created: the merchant's move).

    Processing (or a capture, void or refund on its way): the worker usually answers within
    a second or two; one that has waited longer is retrying or recovering, so poll about
    half as often as it has waited. Pending: not before the worker's next re-check."""
    working = payment.has_work_in_flight and not payment.status.is_in_flight
    if payment.status is PaymentStatus.PROCESSING or working:
        waited = max(0, now - payment.updated_at)
        return max(MIN_POLL_SECONDS, min(MAX_PROCESSING_POLL_SECONDS, waited // 2))
    if payment.status is PaymentStatus.PENDING:
        recheck = payment.updated_at + recheck_delay_seconds(
            payment.bank_checks, recheck_base, recheck_cap
        )
        return max(MIN_POLL_SECONDS, recheck - now)
    return None
