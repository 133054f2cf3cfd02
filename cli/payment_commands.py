"""`paygate payments`: look at payments as ops (cards masked, as merchants see them, plus
what processing noted); capture, void and refund one as its merchant would, over the API
(cli/merchant_api.py)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.merchant_api import ApiKeyOption, merchant_api
from cli.output import emit_records, fail, say, show, when
from cli.target import target_of
from cli.webhook_commands import MerchantOption
from core.domain.clock import epoch_seconds
from core.domain.errors import UnreadablePaymentError
from core.domain.payment import CaptureMethod, Payment, PaymentStatus
from core.domain.payment_view import refund_json
from handlers.routes import CAPTURE_PAYMENT, REFUND_PAYMENT, VOID_PAYMENT

payments_app = typer.Typer(
    help="Payments, as ops see them (cards masked; never a PAN or CVV); capture, void, refund.",
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
        "captureMethod": payment.capture_method.value
        if payment.capture_method is CaptureMethod.MANUAL
        else None,
        "authorizedAt": when(payment.authorized_at),
        "capturedAmount": payment.captured_amount,
        "settling": payment.settlement.kind.value if payment.settlement else None,
        "voidReason": payment.void_reason.value if payment.void_reason else None,
        "refundedAmount": payment.refunded_amount if payment.refunds else None,
        "refunds": [_refund_document(refund_json(r)) for r in payment.refunds] or None,
    }
    if failure:
        document["lastError"] = failure.reason
        document["errors"] = failure.count
        document["firstErrorAt"] = when(failure.first_at)
        document["lastErrorAt"] = when(failure.last_at)
        document["deadLetterReceives"] = failure.dead_letter_receives
    return {key: value for key, value in document.items() if value is not None}


def _refund_document(refund: dict[str, Any]) -> dict[str, Any]:
    """A refund as its merchant reads it, its times in UTC ISO 8601 as every time here."""
    return refund | {"createdAt": when(refund["createdAt"]), "updatedAt": when(refund["updatedAt"])}


def _record(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """A payment's lines; its refunds as a count by status (`payments get` lists each)."""
    refunds = document.get("refunds") or []
    statuses = [refund["status"] for refund in refunds]
    counted = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
    return [(k, counted if k == "refunds" else v) for k, v in document.items()]


def _refund_record(refund: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("refund", refund["refundId"]),
        ("amount", refund["amount"]),
        ("status", refund["status"]),
        ("failCode", refund.get("failCode")),
        ("reason", refund.get("reason")),
        ("createdAt", refund["createdAt"]),
    ]


def _show_payment(payment_id: str, document: dict[str, Any]) -> None:
    emit_records(f"payment {payment_id}", [_record(document)])
    refunds = document.get("refunds") or []
    if refunds:
        say("")
        emit_records(f"refunds of {payment_id}: {len(refunds)}", map(_refund_record, refunds))


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
    show(document, lambda: _show_payment(payment_id, document))


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


PaymentIdArgument = Annotated[str, typer.Argument(help="The payment's id.")]


def _asked(what: str, payment_id: str, answer: dict[str, Any]) -> None:
    emit_records(f"{what} (202: the worker asks the bank next)", [list(answer.items())])
    say("")
    say(f"follow it: paygate payments get {payment_id}")


@payments_app.command(
    "capture",
    epilog="Examples:\n\n\b\n  paygate payments capture 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1\n"
    "  paygate payments capture 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1 --amount 800\n"
    "  PAYGATE_API_KEY=pg_... paygate --stack paygate-prod payments capture "
    "27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1 --merchant-id ada-s-shop --json\n",
)
def payments_capture(
    ctx: typer.Context,
    payment_id: PaymentIdArgument,
    amount: Annotated[
        int | None,
        typer.Option(help="How much, in minor units (default: all; the rest is released)."),
    ] = None,
    merchant_id: MerchantOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Capture an Authorized payment (made with captureMethod manual), as its merchant does
    over the API; prints the API's answer. Exits 1 when refused (not Authorized: 409)."""
    api = merchant_api(target_of(ctx), merchant_id, api_key)
    chosen = {} if amount is None else {"amount": amount}
    answer = api.post(CAPTURE_PAYMENT.path, {"paymentId": payment_id, **chosen})
    show(answer, lambda: _asked(f"capture of {payment_id} asked for", payment_id, answer))


@payments_app.command(
    "void",
    epilog="Examples:\n\n\b\n  paygate payments void 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1\n"
    "  paygate payments void 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1 --json\n",
)
def payments_void(
    ctx: typer.Context,
    payment_id: PaymentIdArgument,
    merchant_id: MerchantOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Release an Authorized payment's funds (it becomes Voided), as its merchant does over
    the API; prints the API's answer. Exits 1 when refused (not Authorized: 409)."""
    api = merchant_api(target_of(ctx), merchant_id, api_key)
    answer = api.post(VOID_PAYMENT.path, {"paymentId": payment_id})
    show(answer, lambda: _asked(f"void of {payment_id} asked for", payment_id, answer))


@payments_app.command(
    "refund",
    epilog="Examples:\n\n\b\n"
    "  paygate payments refund 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1 --amount 500\n"
    "  paygate payments refund 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1 --amount 500 "
    '--reason "returned goods" --idempotency-key return-4411\n',
)
def payments_refund(
    ctx: typer.Context,
    payment_id: PaymentIdArgument,
    amount: Annotated[
        int,
        typer.Option(help="How much to give back, in minor units (at most what is left)."),
    ],
    reason: Annotated[str | None, typer.Option(help="Why, for the records.")] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Repeating the command with the same key answers the same refund."),
    ] = None,
    merchant_id: MerchantOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Refund part or all of an Accepted payment's captured amount, as its merchant does
    over the API; prints the refund (Pending: the worker asks the bank next). Exits 1 when
    refused (past the captured amount, or nothing captured: 409)."""
    api = merchant_api(target_of(ctx), merchant_id, api_key)
    chosen = {} if reason is None else {"reason": reason}
    answer = api.post(
        REFUND_PAYMENT.path,
        {"paymentId": payment_id, "amount": amount, **chosen},
        idempotency_key=idempotency_key,
    )
    show(answer, lambda: _asked(f"refund of {payment_id} asked for", payment_id, answer))
