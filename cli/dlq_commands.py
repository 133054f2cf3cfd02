"""`paygate dlq`: the on-call toolkit for the dead-letter queue: look (every message stays
where it is), replay jobs, drop stale copies, delete poison."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from cli.output import duration_seconds, emit_records, fail, say, show, warn, when
from cli.target import Target, target_of
from core.domain.bank_simulation import TIMEOUT_AMOUNT, BankControls
from core.domain.dead_letters import DeadLetter, LetterFilter, LetterReport, age_seconds
from core.domain.held_letters import LetterAction

dlq_app = typer.Typer(
    help="The dead-letter queue: inspect, replay, delete (nothing is ever lost: replay sends "
    "first, then deletes).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
_MAX_LIMIT = 10_000
_WAIT_STEP_SECONDS = 1.0

MessageIdOption = Annotated[str | None, typer.Option(help="Only this message.")]
PaymentIdOption = Annotated[str | None, typer.Option(help="Only this payment's messages.")]
MerchantOption = Annotated[str | None, typer.Option(help="Only this merchant's payments.")]
ErrorOption = Annotated[
    str | None, typer.Option("--error", help="Only where the reason contains this text.")
]
OlderThanOption = Annotated[
    str | None, typer.Option(help="Only messages older than this (90s, 10m, 2h, 3d).")
]


def _filter(
    message_id: str | None,
    payment_id: str | None,
    merchant: str | None,
    error: str | None,
    older_than: str | None,
) -> LetterFilter:
    return LetterFilter(
        message_id=message_id,
        payment_id=payment_id,
        merchant_id=merchant,
        error_contains=error,
        older_than_seconds=None
        if older_than is None
        else duration_seconds("--older-than", older_than),
    )


def _when_ms(epoch_ms: int) -> str | None:
    return when(epoch_ms / 1000)


def _age(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def letter_document(letter: DeadLetter, now_ms: int) -> dict[str, Any]:
    failure = letter.failure
    return {
        "messageId": letter.message_id,
        "paymentId": letter.payment_id,
        "merchantId": letter.merchant_id,
        "kind": letter.kind.value,
        "paymentStatus": letter.payment_status,
        "reason": letter.last_error,
        "receivesWhenDeadLettered": letter.receives_when_dead_lettered,
        "sentAt": _when_ms(letter.sent_at_ms),
        "ageSeconds": age_seconds(letter, now_ms),
        "failures": failure.count if failure else None,
        "firstFailureAt": when(failure.first_at) if failure else None,
        "lastFailureAt": when(failure.last_at) if failure else None,
        "body": letter.body_preview,
    }


def _letter_record(letter: DeadLetter, now_ms: int) -> list[tuple[str, Any]]:
    failure = letter.failure
    receives = (
        f"{letter.receives_when_dead_lettered}, then SQS moved it here"
        if letter.receives_when_dead_lettered
        else "unknown (the jobs queue's redrive policy is unreadable, or names another DLQ)"
    )
    payment = letter.payment_id and (
        f"{letter.payment_id}  ({letter.merchant_id or 'unknown merchant'}, "
        f"{letter.payment_status or 'no such payment'})"
    )
    failures = failure and (
        f"{failure.count}, first {when(failure.first_at)}, last {when(failure.last_at)}"
    )
    return [
        ("message", letter.message_id),
        ("payment", payment),
        ("kind", letter.kind.value),
        ("reason", letter.last_error),
        ("failures", failures),
        ("receives", receives),
        ("age", _age(age_seconds(letter, now_ms))),
        ("body", letter.body_preview),
    ]


def _now_ms(target: Target) -> int:
    return int(target.services.clock.now() * 1000)


@dlq_app.command(
    "list",
    epilog="Examples:\n\n\b\n  paygate dlq list\n  paygate dlq list --json\n"
    "  paygate dlq list --merchant dev-merchant --older-than 10m\n"
    '  paygate dlq list --error "did not answer"\n',
)
def dlq_list(
    ctx: typer.Context,
    message_id: MessageIdOption = None,
    payment_id: PaymentIdOption = None,
    merchant: MerchantOption = None,
    error: ErrorOption = None,
    older_than: OlderThanOption = None,
    limit: Annotated[
        int, typer.Option(min=1, max=_MAX_LIMIT, help="Show at most this many.")
    ] = 100,
) -> None:
    """What is in the DLQ and why: each message with its payment, the reason and history of
    its failures, its age and body. Messages stay where they are."""
    target = target_of(ctx)
    only = _filter(message_id, payment_id, merchant, error, older_than)
    letters = target.dead_letters.list(limit, only)
    now_ms = _now_ms(target)
    show(
        [letter_document(letter, now_ms) for letter in letters],
        lambda: emit_records(
            f"dead letters ({target.name}): {len(letters)}",
            [_letter_record(letter, now_ms) for letter in letters],
        ),
    )


@dlq_app.command(
    "show", epilog="Examples:\n\n\b\n  paygate dlq show 5c0e4b2a-9d7f-4b9e-8f5a-1234567890ab\n"
)
def dlq_show(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help="The message id, from `dlq list`.")],
) -> None:
    """One message of the DLQ, in full."""
    target = target_of(ctx)
    letter = target.dead_letters.show(message_id)
    if letter is None:
        fail(f"no message {message_id} in the DLQ")
    now_ms = _now_ms(target)
    show(
        letter_document(letter, now_ms),
        lambda: emit_records(f"dead letter {message_id}", [_letter_record(letter, now_ms)]),
    )


def _say(letter: DeadLetter, action: LetterAction, dry_run: bool) -> None:
    verb = f"would be {action.value}" if dry_run else action.value
    say(
        f"{verb:<18} {letter.payment_id or '-'}  message {letter.message_id}  "
        f"({letter.kind.value}: {letter.last_error})"
    )


def _report_document(report: LetterReport, dry_run: bool) -> dict[str, Any]:
    return {
        "dryRun": dry_run,
        "letters": [
            {
                "messageId": letter.message_id,
                "paymentId": letter.payment_id,
                "kind": letter.kind.value,
                "reason": letter.last_error,
                "action": action.value,
            }
            for letter, action in report.done
        ],
        "left": report.left,
    }


def _wait_for_outcomes(
    target: Target, payment_ids: list[str], seconds: float
) -> tuple[dict[str, str], list[str]]:
    """Each replayed payment's status once it has nothing left to do with the bank (its
    authorization, capture, void or refunds), or as it stands when the wait is over; and
    the payments still at work then."""
    deadline = time.monotonic() + seconds
    pending = list(dict.fromkeys(payment_ids))
    statuses: dict[str, str] = {}
    while pending and time.monotonic() < deadline:
        for payment_id in list(pending):
            payment = target.services.payments.get(payment_id)
            statuses[payment_id] = payment.status.value if payment else "gone"
            if payment is None or not payment.has_work_in_flight:
                pending.remove(payment_id)
        if pending:
            time.sleep(_WAIT_STEP_SECONDS)
    return statuses, pending


def bank_warnings(controls: BankControls, replayed: list[DeadLetter]) -> list[str]:
    """Why the simulated bank will fail replayed payments again, switch by switch."""
    found = []
    if controls.outage:
        found.append(
            "the bank outage is on: every replayed payment fails again "
            "(`paygate bank outage off`, then replay what returns to the DLQ)"
        )
    timing_out = [
        letter for letter in replayed if letter.amount and controls.times_out(letter.amount)
    ]
    if timing_out:
        found.append(
            f"bank timeouts are on: {len(timing_out)} replayed payment(s) of amount "
            f"{TIMEOUT_AMOUNT} time out again (`paygate bank timeouts off`)"
        )
    return found


@dlq_app.command(
    "replay",
    epilog="Examples:\n\n\b\n  paygate dlq replay --dry-run\n  paygate dlq replay\n"
    "  paygate dlq replay --payment-id 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1 --wait 30\n"
    '  paygate dlq replay --error "did not answer" --older-than 1h --json\n',
)
def dlq_replay(
    ctx: typer.Context,
    message_id: MessageIdOption = None,
    payment_id: PaymentIdOption = None,
    merchant: MerchantOption = None,
    error: ErrorOption = None,
    older_than: OlderThanOption = None,
    limit: Annotated[
        int, typer.Option(min=1, max=_MAX_LIMIT, help="Replay at most this many.")
    ] = 100,
    dry_run: Annotated[bool, typer.Option(help="Say what would be done; move nothing.")] = False,
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            max=3600,
            help="Then wait up to this many seconds for outcomes; exit 1 if a replayed "
            "payment is still in flight at the end.",
        ),
    ] = 0,
) -> None:
    """Send jobs back to the jobs queue (send first, then delete: none is lost). Copies of
    payments already final are dropped; poison (no payment job) is never replayed: see
    `dlq delete`. Prints what it did to each message, then the counts; warns when a bank
    switch would fail the replayed payments again."""
    target = target_of(ctx)
    report = target.dead_letters.replay(
        only=_filter(message_id, payment_id, merchant, error, older_than),
        limit=limit,
        dry_run=dry_run,
        on_letter=lambda letter, action: _say(letter, action, dry_run),
    )
    prefix = "would have " if dry_run else ""
    say(
        f"{prefix}replayed {len(report.replayed)}, {prefix}dropped "
        f"{len(report.dropped_stale)} stale; {report.left} left in the DLQ"
        + ("; nothing moved" if dry_run else "")
    )
    statuses: dict[str, str] = {}
    in_flight: list[str] = []
    if wait and not dry_run and report.replayed:
        statuses, in_flight = _wait_for_outcomes(
            target, [letter.payment_id for letter in report.replayed if letter.payment_id], wait
        )
    for each, status in statuses.items():
        say(f"outcome  {each}  {status}" + (" (still in flight)" if each in in_flight else ""))
    # Read last: what matters is whether a switch is still on once the wait is over.
    warnings = (
        bank_warnings(target.services.bank_controls.read(), report.replayed)
        if report.replayed
        else []
    )
    for warning in warnings:
        warn(warning)
    document = _report_document(report, dry_run) | {
        "replayed": len(report.replayed),
        "dropped": len(report.dropped_stale),
        "outcomes": statuses,
        "stillInFlight": in_flight,
        "warnings": warnings,
    }
    show(document)
    if in_flight:
        fail(f"{len(in_flight)} replayed payment(s) still in flight after {wait:g} s")


@dlq_app.command(
    "delete",
    epilog="Examples:\n\n\b\n  paygate dlq delete --dry-run\n  paygate dlq delete\n"
    "  paygate dlq delete --message-id 5c0e4b2a-9d7f-4b9e-8f5a-1234567890ab --json\n",
)
def dlq_delete(
    ctx: typer.Context,
    message_id: MessageIdOption = None,
    payment_id: PaymentIdOption = None,
    merchant: MerchantOption = None,
    error: ErrorOption = None,
    older_than: OlderThanOption = None,
    include_jobs: Annotated[
        bool,
        typer.Option(
            help="Delete jobs of payments with work in flight too: an authorization is then "
            "settled at its bound; a capture, void or refund is queued again by the reconciler, "
            "less often each time."
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Say what would be done; delete nothing.")] = False,
) -> None:
    """Delete poison (bodies that are no payment job, jobs of no payment) and stale copies
    of final payments that match the filters. Jobs of payments in flight are kept unless
    --include-jobs."""
    target = target_of(ctx)
    report = target.dead_letters.delete(
        only=_filter(message_id, payment_id, merchant, error, older_than),
        include_jobs=include_jobs,
        dry_run=dry_run,
        on_letter=lambda letter, action: _say(letter, action, dry_run),
    )
    prefix = "would have " if dry_run else ""
    say(f"{prefix}deleted {len(report.deleted)}; {report.left} left in the DLQ")
    show(_report_document(report, dry_run) | {"deleted": len(report.deleted)})
