"""`paygate payments`: look at payments as ops (cards masked, as merchants see them, plus
what processing noted)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.output import emit_records, fail, show, when
from cli.target import target_of
from core.domain.clock import epoch_seconds
from core.domain.errors import UnreadablePaymentError
from core.domain.payment import Payment, PaymentStatus

payments_app = typer.Typer(
    help="Payments, as ops see them (cards masked; never a PAN or CVV).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
_LIST_LIMIT = 1000


def payment_document(payment: Payment) -> dict[str, Any]:
    """A payment for ops: what its merchant sees, and what processing noted. The card is
    its masked number; whether its ciphertext is still held is a yes or no."""
    details, failure = payment.details, payment.failure
    document: dict[str, Any] = {
        "paymentId": payment.payment_id,
        "merchantId": payment.merchant_id,
        "status": payment.status.value,
        "version": payment.version,
        "createdAt": when(payment.created_at),
        "updatedAt": when(payment.updated_at),
        "amount": details.amount if details else None,
        "currency": details.currency if details else None,
        "cardNumber": details.masked_card_number if details else None,
        "failCode": payment.fail_code,
        "failReason": payment.fail_reason,
        "bankChecks": payment.bank_checks,
        "reconcileCount": payment.reconcile_count,
        "cardHeld": payment.card_ciphertext is not None,
        "enqueueFailed": payment.enqueue_failed or None,
    }
    if failure:
        document["lastError"] = failure.reason
        document["errors"] = failure.count
        document["firstErrorAt"] = when(failure.first_at)
        document["lastErrorAt"] = when(failure.last_at)
        document["deadLetterReceives"] = failure.dead_letter_receives
    return {key: value for key, value in document.items() if value is not None}


def _record(document: dict[str, Any]) -> list[tuple[str, Any]]:
    return list(document.items())


@payments_app.command(
    "get",
    epilog="Examples:\n\n\b\n  paygate payments get 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1\n"
    "  paygate payments get 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1 --json\n",
)
def payments_get(
    ctx: typer.Context,
    payment_id: Annotated[str, typer.Argument(help="The payment's id.")],
) -> None:
    """One payment, whichever merchant's."""
    try:
        payment = target_of(ctx).services.payments.get(payment_id)
    except UnreadablePaymentError as error:
        fail(str(error))
    if payment is None:
        fail(f"no payment {payment_id}")
    document = payment_document(payment)
    show(document, lambda: emit_records(f"payment {payment_id}", [_record(document)]))


@payments_app.command(
    "list",
    epilog="Examples:\n\n\b\n  paygate payments list --merchant dev-merchant --limit 5\n"
    "  paygate payments list --merchant dev-merchant --status Pending --json\n"
    "  paygate payments list --in-flight\n",
)
def payments_list(
    ctx: typer.Context,
    merchant: Annotated[
        str | None, typer.Option(help="This merchant's payments, newest first.")
    ] = None,
    status: Annotated[PaymentStatus | None, typer.Option(help="Only this status.")] = None,
    in_flight: Annotated[
        bool,
        typer.Option("--in-flight", help="Every payment in flight, least recently moved first."),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=_LIST_LIMIT, help="At most this many.")] = 20,
) -> None:
    """A merchant's payments (--merchant), or the payments in flight (--in-flight)."""
    if (merchant is None) == (not in_flight):
        fail("say whose payments: --merchant ID, or --in-flight")
    target = target_of(ctx)
    repository = target.services.payments
    now = epoch_seconds(target.services.clock)
    payments: list[Payment] = []
    if merchant is not None:
        after: str | None = None
        while len(payments) < limit:
            page = repository.list_for_merchant(
                merchant_id=merchant,
                created_from=0,
                created_to=now + target.settings.payment_ttl_seconds,
                status=status,
                limit=limit - len(payments),
                after=after,
                now=now,
            )
            payments.extend(page.payments)
            if page.next_position is None:
                break
            after = page.next_position
    else:
        for stalled in repository.in_flight_pages():
            for candidate in stalled:
                found = repository.get(candidate.payment_id)
                if found and found.status.is_in_flight and (status in (None, found.status)):
                    payments.append(found)
            if len(payments) >= limit:
                break
        payments = payments[:limit]
    documents = [payment_document(payment) for payment in payments]
    whose = f"of {merchant}" if merchant else "in flight"
    show(
        documents,
        lambda: emit_records(
            f"payments {whose}: {len(documents)}", [_record(d) for d in documents]
        ),
    )
