"""`paygate webhooks` and `paygate events`: a merchant's webhook endpoints, a payment's
events with every delivery attempt, and replays (events delivered again, the way the DLQ
replay re-queues jobs: nothing is lost by replaying twice, receivers dedupe on the id)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from cli.local_state import DEV_MERCHANT_ID
from cli.output import duration_seconds, emit_records, fail, say, show, when
from cli.target import Target, target_of
from core.domain.errors import PaygateError
from core.domain.webhook_events import ALL_EVENT_TYPES, EVENT_RETENTION_SECONDS
from core.domain.webhooks import DeliveryJob, StoredEvent, WebhookEndpoint

webhooks_app = typer.Typer(
    help="Webhook endpoints: register, list, rotate, remove; replay events to them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
events_app = typer.Typer(
    help="A payment's events, with every webhook delivery attempt.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

MerchantOption = Annotated[
    str | None,
    typer.Option(help="The merchant (default on the local stack: the development merchant)."),
]


def merchant_of(target: Target, merchant_id: str | None) -> str:
    if merchant_id:
        return merchant_id
    if target.is_local:
        return DEV_MERCHANT_ID
    fail("name the merchant: --merchant-id ID", 2)


def _endpoint_record(endpoint: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("endpoint", endpoint["id"]),
        ("url", endpoint["url"]),
        ("events", ", ".join(endpoint["eventTypes"])),
        ("created", when(endpoint["createdAt"])),
    ]


@webhooks_app.command(
    "add",
    epilog="Examples:\n\n\b\n  paygate webhooks add http://127.0.0.1:9000/hooks\n"
    "  paygate --stack paygate-prod webhooks add https://shop.example.com/hooks "
    "--merchant-id ada-s-shop --events payment.accepted,payment.declined\n",
)
def webhooks_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where to POST events (https on AWS).")],
    merchant_id: MerchantOption = None,
    events: Annotated[
        str | None,
        typer.Option(
            help=f"Comma-separated event types (default: all: {', '.join(ALL_EVENT_TYPES)})."
        ),
    ] = None,
) -> None:
    """Register an endpoint; prints its signing secret, shown this once."""
    target = target_of(ctx)
    merchant = merchant_of(target, merchant_id)
    if target.merchants().get_merchant(merchant) is None:
        fail(f"no merchant {merchant} (see `paygate merchants list`)")
    types = tuple(t.strip() for t in (events or "").split(",") if t.strip())
    try:
        issued = target.services.webhook_endpoint_service.register(merchant, merchant, url, types)
    except PaygateError as error:
        fail(error.reason, 2)
    document = issued.endpoint.to_json() | {"secret": issued.secret}

    def human() -> None:
        emit_records("webhook endpoint registered", [_endpoint_record(document)])
        say(f"signing secret (shown once): {issued.secret}")

    show(document, human)


@webhooks_app.command("list", epilog="Examples:\n\n\b\n  paygate webhooks list\n")
def webhooks_list(ctx: typer.Context, merchant_id: MerchantOption = None) -> None:
    """The merchant's endpoints (never their secrets)."""
    target = target_of(ctx)
    merchant = merchant_of(target, merchant_id)
    endpoints = [e.to_json() for e in target.services.webhook_endpoints.list(merchant)]
    show(
        endpoints,
        lambda: emit_records(
            f"webhook endpoints of {merchant}: {len(endpoints)}", map(_endpoint_record, endpoints)
        ),
    )


@webhooks_app.command(
    "remove", epilog="Examples:\n\n\b\n  paygate webhooks remove we_0123456789abcdef0123\n"
)
def webhooks_remove(
    ctx: typer.Context,
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id.")],
    merchant_id: MerchantOption = None,
) -> None:
    """Remove an endpoint: nothing more is delivered to it."""
    _endpoint_id(endpoint_id)
    target = target_of(ctx)
    merchant = merchant_of(target, merchant_id)
    if target.services.webhook_endpoints.remove(merchant, endpoint_id) is None:
        fail(f"no webhook endpoint {endpoint_id} of {merchant}")
    show({"id": endpoint_id, "removed": True}, lambda: say(f"removed {endpoint_id}"))


@webhooks_app.command(
    "rotate", epilog="Examples:\n\n\b\n  paygate webhooks rotate we_0123456789abcdef0123\n"
)
def webhooks_rotate(
    ctx: typer.Context,
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id.")],
    merchant_id: MerchantOption = None,
) -> None:
    """A new signing secret (shown once); the old one keeps signing for 24 hours (at most 3
    sign at once: a fourth rotation within the day retires the oldest)."""
    _endpoint_id(endpoint_id)
    target = target_of(ctx)
    merchant = merchant_of(target, merchant_id)
    try:
        issued = target.services.webhook_endpoint_service.rotate(merchant, merchant, endpoint_id)
    except PaygateError as error:
        fail(error.reason)
    show(
        issued.endpoint.to_json() | {"secret": issued.secret},
        lambda: say(f"new signing secret of {endpoint_id} (shown once): {issued.secret}"),
    )


@dataclass(frozen=True)
class Replay:
    event: StoredEvent
    endpoint_id: str
    url: str


def _selected(
    target: Target, event_id: str | None, payment_id: str | None, since: int | None
) -> list[StoredEvent]:
    events = target.services.events
    if event_id is not None:
        found = events.get(event_id)
        return [found] if found else []
    if payment_id is not None:
        return events.events_of(payment_id)
    assert since is not None
    chosen = (events.get(each) for each in events.event_ids_since(since, int(time.time())))
    return sorted((e for e in chosen if e), key=lambda e: (e.created, e.event_id))


@webhooks_app.command(
    "replay",
    epilog="Examples:\n\n\b\n"
    "  paygate webhooks replay --payment-id 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1\n"
    "  paygate webhooks replay --since 2h --dry-run\n"
    "  paygate webhooks replay --event-id evt_27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1_3\n",
)
def webhooks_replay(
    ctx: typer.Context,
    event_id: Annotated[str | None, typer.Option(help="This event.")] = None,
    payment_id: Annotated[str | None, typer.Option(help="Every event of this payment.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Every event since: 90m, 2h, 3d ago, or epoch seconds.")
    ] = None,
    dead_letters: Annotated[
        bool, typer.Option(help="Every delivery in the deliveries DLQ (moved back).")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Say what would be sent; send nothing.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="With --dead-letters.")] = 1000,
) -> None:
    """Deliver events again to each endpoint (of their merchant) that wants them, as new
    deliveries with a fresh retry budget; or move the deliveries DLQ back to its queue."""
    chosen = sum(x is not None for x in (event_id, payment_id, since)) + dead_letters
    if chosen != 1:
        fail("choose one of --event-id, --payment-id, --since, --dead-letters", 2)
    _given("--event-id", event_id)
    _given("--payment-id", payment_id)
    target = target_of(ctx)
    if dead_letters:
        moved = target.services.deliveries.replay_dead_letters(
            time.time(), dry_run=dry_run, limit=limit
        )
        verb = "would send" if dry_run else "sent"
        for job in moved.jobs:
            say(f"{verb:<10} {job.event_id} to {job.endpoint_id}")
        done = "would replay" if dry_run else "replayed"
        say(f"{done} {len(moved.jobs)} dead-lettered deliveries")
        if moved.duplicates:
            dropped = "would delete" if dry_run else "deleted"
            say(f"{dropped} {moved.duplicates} second letter(s) for a delivery replayed above")
        if moved.unreadable:
            say(
                f"left {len(moved.unreadable)} message(s) in the DLQ that are not deliveries "
                f"(message ids: {', '.join(moved.unreadable)}); see the runbook"
            )
        deliveries = [{"eventId": j.event_id, "endpointId": j.endpoint_id} for j in moved.jobs]
        show(
            {
                "dryRun": dry_run,
                "deliveries": deliveries,
                "replayed": len(deliveries),
                "secondLettersDeleted": moved.duplicates,
                "notDeliveries": list(moved.unreadable),
            },
        )
        return
    start = _since(since) if since is not None else None
    selected = _selected(target, event_id, payment_id, start)
    plan = [
        Replay(event, endpoint.endpoint_id, endpoint.url)
        for event in selected
        for endpoint in target.services.webhook_endpoints.list(event.merchant_id)
        if endpoint.wants(event.type)
    ]
    now = time.time()
    for each in plan:
        verb = "would send" if dry_run else "sent"
        say(f"{verb:<10} {each.event.event_id} ({each.event.type}) to {each.url}")
    if not dry_run:
        jobs = [
            DeliveryJob.replayed(
                p.event.event_id, p.endpoint_id, p.event.merchant_id, now, replay=True
            )
            for p in plan
        ]
        target.services.deliveries.publish(jobs, now)
    say(f"{'would replay' if dry_run else 'replayed'} {len(plan)} deliveries")
    if not selected:
        say("no events matched (an unknown event or payment id, or none in that time)")
    elif not plan:
        say(f"{len(selected)} event(s) matched, but no endpoint of their merchant wants them")
    show(
        {
            "dryRun": dry_run,
            "eventsMatched": len(selected),
            "deliveries": [
                {
                    "eventId": p.event.event_id,
                    "type": p.event.type,
                    "endpointId": p.endpoint_id,
                    "url": p.url,
                }
                for p in plan
            ],
            "replayed": len(plan),
        }
    )


def _endpoint_id(value: str) -> None:
    """A usage error for what is not an endpoint id (the API refuses it as 422 too)."""
    if not WebhookEndpoint.is_id(value):
        fail(f"{value[:40]!r} is not an endpoint id (we_ and 20 hex digits)", 2)


def _given(option: str, value: str | None) -> None:
    """A usage error for an id option given empty (`--payment-id ""`)."""
    if value is not None and not value.strip():
        fail(f"{option} needs an id", 2)


# Epoch seconds have had 10 digits since 2001: a shorter number is a duration in seconds.
# More than 15 is millions of years ahead (and int() refuses thousands of them).
EPOCH_DIGITS = 10
MAX_EPOCH_DIGITS = 15


def _since(text: str) -> int:
    """Epoch seconds: given as such (10 digits or more), or a duration back from now; a
    usage error for a time in the future or before the oldest event kept."""
    now = int(time.time())
    digits = text.strip()
    if len(digits) >= EPOCH_DIGITS and digits.isascii() and digits.isdigit():
        if len(digits) > MAX_EPOCH_DIGITS:
            fail(f"--since {digits[:20]}... is in the future", 2)
        start = int(digits)
    else:
        start = now - duration_seconds("--since", text)
    if start > now:
        fail(f"--since {text} is in the future", 2)
    if start < now - EVENT_RETENTION_SECONDS:
        days = EVENT_RETENTION_SECONDS // (24 * 3600)
        fail(f"--since reaches back {days} days at most: events are kept that long", 2)
    return start


@events_app.command(
    "list",
    epilog="Examples:\n\n\b\n"
    "  paygate events list --payment-id 27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1\n",
)
def events_list(
    ctx: typer.Context,
    payment_id: Annotated[str, typer.Option(help="The payment.")],
) -> None:
    """The payment's events oldest first, each delivery's state and attempts."""
    _given("--payment-id", payment_id)
    events = target_of(ctx).services.events.events_of(payment_id)
    documents = [event.to_json() for event in events]
    show(documents, lambda: _event_records(payment_id, documents))


def _event_records(payment_id: str, documents: list[dict[str, Any]]) -> None:
    records = []
    for event in documents:
        record: list[tuple[str, Any]] = [
            ("event", event["id"]),
            ("type", event["type"]),
            ("version", event["version"]),
            ("created", when(event["created"])),
        ]
        for delivery in event["deliveries"]:
            tries = ", ".join(str(a.get("status") or a.get("error")) for a in delivery["attempts"])
            record.append(("delivery", f"{delivery['url']}: {delivery['state']} ({tries})"))
        records.append(record)
    emit_records(f"events of {payment_id}: {len(records)}", records)
