"""The `paygate` command: the local stack, the DLQ tools, merchants, status, the bank."""

from __future__ import annotations

import re
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress
from rich.table import Table

from cli.local_stack import (
    DEFAULT_STATE_FILE,
    LocalStack,
    LocalStackInfo,
    LocalStackOptions,
    PortInUseError,
    run_until_interrupted,
)
from cli.target import Target, TargetError, aws_target, local_target
from cli.usage_plans import issue_usage_key
from core.clock import epoch_seconds
from core.dead_letters import DeadLetter, age_seconds
from core.merchants import IssuedKey, MerchantExistsError, UnknownKeyError, UnknownMerchantError

console = Console()
app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
merchants_app = typer.Typer(help="Merchants and their API keys.", no_args_is_help=True)
dlq_app = typer.Typer(help="The dead-letter queue: inspect and replay.", no_args_is_help=True)
bank_app = typer.Typer(help="Switches of the simulated bank.", no_args_is_help=True)
app.add_typer(merchants_app, name="merchants")
app.add_typer(dlq_app, name="dlq")
app.add_typer(bank_app, name="bank")


class Switch(StrEnum):
    ON = "on"
    OFF = "off"


_state: dict[str, object] = {}


@app.callback()
def choose_target(
    stack: Annotated[
        str | None, typer.Option(help="A deployed CDK stack's name (default: the local stack).")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region of --stack.")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile for --stack.")] = None,
    state_file: Annotated[
        Path, typer.Option(help="Where the local stack writes its URL, key and settings.")
    ] = DEFAULT_STATE_FILE,
) -> None:
    _state.update(stack=stack, region=region, profile=profile, state_file=state_file)


def _target() -> Target:
    try:
        stack = _state.get("stack")
        if isinstance(stack, str):
            region, profile = _state.get("region"), _state.get("profile")
            return aws_target(
                stack,
                region if isinstance(region, str) else None,
                profile if isinstance(profile, str) else None,
            )
        state_file = _state.get("state_file")
        return local_target(state_file if isinstance(state_file, Path) else DEFAULT_STATE_FILE)
    except TargetError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


@app.command()
def local(
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API.")] = 3000,
    aws_port: Annotated[int, typer.Option(help="Port of the AWS emulator (0: any free).")] = 0,
    api_instances: Annotated[
        int, typer.Option(min=1, max=8, help="API processes sharing the port.")
    ] = 2,
) -> None:
    """Run the whole system locally: AWS emulator, API, worker, reconciler. Ctrl-C stops it."""
    state_file = _state.get("state_file")
    options = LocalStackOptions(
        host=host,
        port=port,
        aws_port=aws_port,
        api_instances=api_instances,
        state_file=state_file if isinstance(state_file, Path) else DEFAULT_STATE_FILE,
    )

    def announce(info: LocalStackInfo) -> None:
        console.print(
            Panel.fit(
                f"API       [bold]{info.url}[/bold]\n"
                f"API key   [bold]{info.api_key}[/bold]\n"
                f"merchant  {info.merchant_id}\n"
                f"AWS       {info.aws_endpoint_url} (moto)\n"
                f"state     {options.state_file} (for scripts and the paygate CLI)\n\n"
                "Try:  curl -s -X POST "
                f"{info.url}/create-payment -H 'Authorization: Bearer {info.api_key}' "
                "-H 'Content-Type: application/json' "
                f'-d \'{{"merchantId": "{info.merchant_id}"}}\'',
                title="paygate is running (Ctrl-C to stop)",
            )
        )

    try:
        code = run_until_interrupted(LocalStack(options), announce)
    except PortInUseError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print("paygate stopped.")
    raise typer.Exit(code)


@app.command()
def status(
    max_items: Annotated[int, typer.Option(help="Scan at most this many payments.")] = 10_000,
) -> None:
    """Queue depths, DLQ depth, and payments by status."""
    target = _target()
    services = target.services
    jobs = services.jobs.depth()
    dead = target.dead_letters.depth()
    table = Table(title=f"paygate status ({target.name})")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("jobs waiting", str(jobs.visible))
    table.add_row("jobs being processed", str(jobs.in_flight))
    table.add_row("jobs delayed (re-checks)", str(jobs.delayed))
    table.add_row("dead letters", str(dead.total), style="red" if dead.total else None)
    counts, truncated = services.payments.count_by_status(max_items)
    for name, count in sorted(counts.items()):
        table.add_row(f"payments {name}", str(count))
    console.print(table)
    if truncated:
        console.print(f"(payments counted from the first {max_items}; see the dashboard)")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "merchant"


def _show_key(issued: IssuedKey) -> None:
    console.print(f"merchant  {issued.merchant.merchant_id}")
    console.print(f"key id    {issued.key_id}")
    console.print(f"API key   [bold]{issued.api_key}[/bold]")
    console.print("Keep it now: it cannot be shown again.")


@merchants_app.command("create")
def merchants_create(
    name: Annotated[str, typer.Argument(help="The merchant's display name.")],
    merchant_id: Annotated[
        str | None, typer.Option(help="The merchant id (default: from the name).")
    ] = None,
) -> None:
    """Register a new merchant and issue its first API key (shown once; only its digest is
    stored). An id that exists is refused: use `merchants add-key ID` for another key."""
    target = _target()
    merchants = target.services.merchants
    merchant_id = merchant_id or _slug(name)
    if merchants.get_merchant(merchant_id) is not None:
        _refuse_existing(merchant_id)
    usage_key = (
        issue_usage_key(target.session, target.usage_plan_id, f"{target.name}-{merchant_id}")
        if target.usage_plan_id
        else None
    )
    try:
        issued = merchants.create_merchant(
            merchant_id,
            name,
            created_at=epoch_seconds(target.services.clock),
            actor=target.actor,
            usage_key=usage_key,
        )
    except MerchantExistsError:
        _refuse_existing(merchant_id)
    _show_key(issued)


def _refuse_existing(merchant_id: str) -> NoReturn:
    console.print(
        f"[red]merchant {merchant_id} exists already: nothing was issued.[/red] "
        f"To give it another key: paygate merchants add-key {merchant_id}. "
        "For a new merchant, choose another id with --merchant-id."
    )
    raise typer.Exit(1)


@merchants_app.command("add-key")
def merchants_add_key(
    merchant_id: Annotated[str, typer.Argument(help="An existing merchant's id.")],
) -> None:
    """Issue another API key for an existing merchant (to rotate: add, switch, revoke)."""
    target = _target()
    try:
        issued = target.services.merchants.add_key(
            merchant_id, created_at=epoch_seconds(target.services.clock), actor=target.actor
        )
    except UnknownMerchantError:
        console.print(f"[red]no merchant {merchant_id}[/red] (see `paygate merchants list`)")
        raise typer.Exit(1) from None
    _show_key(issued)


@merchants_app.command("revoke")
def merchants_revoke(
    merchant_id: Annotated[str, typer.Argument(help="The merchant's id.")],
    key_id: Annotated[str, typer.Argument(help="The key's id, from `merchants list`.")],
) -> None:
    """Revoke one API key of a merchant: it answers 401 from then on."""
    target = _target()
    try:
        target.services.merchants.revoke_key(
            merchant_id, key_id, revoked_at=epoch_seconds(target.services.clock), actor=target.actor
        )
    except (UnknownMerchantError, UnknownKeyError) as error:
        console.print(f"[red]{error}[/red] (see `paygate merchants list`)")
        raise typer.Exit(1) from None
    console.print(f"revoked {key_id} of {merchant_id}")


@merchants_app.command("list")
def merchants_list() -> None:
    """Every merchant with its keys (active or revoked) and when each was issued."""
    records = _target().services.merchants.list_merchants()
    table = Table(title=f"merchants: {len(records)}")
    for column in ("merchant", "name", "key id", "issued", "revoked"):
        table.add_column(column, overflow="fold")
    for record in records:
        for key in record.keys:
            table.add_row(
                record.merchant_id,
                record.name,
                key.key_id,
                _when(key.created_at),
                _when(key.revoked_at) if key.revoked_at else "-",
            )
    console.print(table)


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + "Z"


def _letters_table(letters: list[DeadLetter], title: str) -> Table:
    now_ms = int(time.time() * 1000)
    table = Table(title=title)
    for column in ("paymentId", "kind", "receives", "age", "last error", "message id"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            letter.payment_id or "-",
            letter.kind.value,
            str(letter.receive_count),
            f"{age_seconds(letter, now_ms)}s",
            letter.last_error,
            letter.message_id,
        )
    return table


@dlq_app.command("list")
def dlq_list(limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100) -> None:
    """What is in the dead-letter queue, and why (messages stay where they are)."""
    target = _target()
    letters = target.dead_letters.list(limit)
    console.print(_letters_table(letters, f"dead letters ({target.name}): {len(letters)}"))


@dlq_app.command("replay")
def dlq_replay(
    payment_id: Annotated[str | None, typer.Option(help="Only this payment's jobs.")] = None,
    limit: Annotated[int, typer.Option(help="Replay at most this many.")] = 100,
    dry_run: Annotated[bool, typer.Option(help="Show what would be replayed.")] = False,
) -> None:
    """Move dead letters back to the jobs queue (send first, then delete: none is lost)."""
    target = _target()
    dead_letters = target.dead_letters
    if dry_run:
        report = dead_letters.replay(payment_id=payment_id, limit=limit, dry_run=True)
        console.print(
            f"would replay {len(report.replayed)} message(s) and drop "
            f"{len(report.dropped_stale)} stale one(s); nothing moved"
        )
        return
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("replaying", total=None)
        report = dead_letters.replay(
            payment_id=payment_id,
            limit=limit,
            on_replayed=lambda _: progress.advance(task),
        )
    for letter in report.dropped_stale:
        console.print(f"dropped  {letter.payment_id}  stale: {letter.last_error}")
    console.print(
        f"replayed {len(report.replayed)} message(s) to the jobs queue; dropped "
        f"{len(report.dropped_stale)} stale copies of final payments; {report.left} left in the DLQ"
    )


@bank_app.command("outage")
def bank_outage(state: Annotated[Switch, typer.Argument()]) -> None:
    """Make every bank call fail (on) or answer again (off)."""
    _target().services.bank_controls.set_outage(state is Switch.ON)
    console.print(f"bank outage {state.value}")


@bank_app.command("timeouts")
def bank_timeouts(state: Annotated[Switch, typer.Argument()]) -> None:
    """Amount 504 times out (on, the default) or is accepted (off)."""
    _target().services.bank_controls.set_timeouts(state is Switch.ON)
    console.print(f"bank timeouts {state.value}")


@bank_app.command("latency")
def bank_latency(milliseconds: Annotated[int, typer.Argument(min=0, max=60_000)]) -> None:
    """Make every bank call take this long."""
    _target().services.bank_controls.set_latency(milliseconds)
    console.print(f"bank latency {milliseconds} ms")


if __name__ == "__main__":
    app()
