"""`paygate bank`: the switches of the simulated bank."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cli.output import say, show
from cli.target import Target, target_of
from core.domain.bank_simulation import BankControls

bank_app = typer.Typer(
    help="Switches of the simulated bank (every process sees a change within a second).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class Switch(StrEnum):
    ON = "on"
    OFF = "off"


def _switches(target: Target) -> None:
    """The switches as they stand now (after any change): the result of every command."""
    controls: BankControls = target.services.bank_controls.read()
    show(
        {
            "outage": controls.outage,
            "timeouts": controls.timeouts,
            "latencyMs": controls.latency_ms,
        },
        lambda: say(
            f"bank outage {'on' if controls.outage else 'off'}, "
            f"timeouts {'on' if controls.timeouts else 'off'}, latency {controls.latency_ms} ms"
        ),
    )


@bank_app.command(
    "status", epilog="Examples:\n\n\b\n  paygate bank status\n  paygate bank status --json\n"
)
def bank_status(ctx: typer.Context) -> None:
    """Show the switches: outage, time-outs of amount 504, latency."""
    _switches(target_of(ctx))


@bank_app.command("outage", epilog="Examples:\n\n\b\n  paygate bank outage on\n")
def bank_outage(ctx: typer.Context, state: Annotated[Switch, typer.Argument()]) -> None:
    """Make every bank call fail (on) or answer again (off)."""
    target = target_of(ctx)
    target.services.bank_controls.set_outage(state is Switch.ON)
    _switches(target)


@bank_app.command("timeouts", epilog="Examples:\n\n\b\n  paygate bank timeouts off\n")
def bank_timeouts(ctx: typer.Context, state: Annotated[Switch, typer.Argument()]) -> None:
    """Amount 504 times out (on, the default) or is accepted (off)."""
    target = target_of(ctx)
    target.services.bank_controls.set_timeouts(state is Switch.ON)
    _switches(target)


@bank_app.command("latency", epilog="Examples:\n\n\b\n  paygate bank latency 200\n")
def bank_latency(
    ctx: typer.Context,
    milliseconds: Annotated[int, typer.Argument(min=0, max=60_000)],
) -> None:
    """Make every bank call take this long."""
    target = target_of(ctx)
    target.services.bank_controls.set_latency(milliseconds)
    _switches(target)
