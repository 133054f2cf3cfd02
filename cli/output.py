"""How the paygate command prints: records of `label  value` lines that are never cut
short (an id copied from the output is the whole id, on a terminal of any width or in a
pipe), or, with `--json` (which every command takes), one JSON document on stdout for
scripts, everything else on stderr."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from functools import cache
from typing import Annotated, Any, NoReturn, TextIO, cast

import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.main import get_command

_json_wanted: ContextVar[bool] = ContextVar("paygate_json", default=False)
# Whether the running command printed its one document already (then a refusal after it,
# such as `dlq replay --wait` finding payments still in flight, adds only its exit code).
_document_printed: ContextVar[bool] = ContextVar("paygate_document_printed", default=False)


def json_wanted() -> bool:
    """Whether the command running was given --json."""
    return _json_wanted.get()


def _want_json(ctx: typer.Context, value: bool) -> None:
    if value:
        token = _json_wanted.set(True)
        printed = _document_printed.set(False)
        ctx.call_on_close(lambda: _json_wanted.reset(token))
        ctx.call_on_close(lambda: _document_printed.reset(printed))


def _json_flag(
    json: Annotated[
        bool,
        typer.Option(
            "--json",
            callback=_want_json,
            expose_value=False,
            help="Print the result as one JSON document (anything else goes to stderr).",
        ),
    ] = False,
) -> None:
    """Only here to build the --json option the typer way (never run)."""


@cache
def _json_option() -> Any:
    flag = typer.Typer()
    flag.command()(_json_flag)
    return next(param for param in get_command(flag).params if param.name == "json")


def _take_json(command: Any) -> None:
    if isinstance(command, TyperGroup):
        for each in command.commands.values():
            _take_json(each)
    else:
        command.params.append(_json_option())


class EveryCommandTakesJson(TyperGroup):
    """The root group: it gives each command under it the one --json flag, so that no
    command can be added without it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            _take_json(command)


class _HumanStream:
    """Where lines for people go: stdout, or stderr when stdout carries the JSON document
    (and whatever sys.stdout and sys.stderr are then: a test runner swaps them)."""

    def _stream(self) -> TextIO:
        return sys.stderr if json_wanted() else sys.stdout

    def write(self, text: str) -> int:
        return self._stream().write(text)

    def flush(self) -> None:
        self._stream().flush()

    def isatty(self) -> bool:
        return self._stream().isatty()


console = Console(file=cast(TextIO, _HumanStream()), soft_wrap=True, highlight=False, emoji=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)

Record = Sequence[tuple[str, Any]]


_DURATION = re.compile(r"^([0-9]{1,12})([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(option: str, text: str) -> int:
    """A duration such as 90s, 10m, 2h or 3d (a bare number: seconds); a usage error
    naming `option` otherwise."""
    match = _DURATION.match(text.strip())
    if not match:
        fail(f"{option} takes a duration such as 90s, 10m, 2h or 3d, not {text!r}", 2)
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def printable(value: Any) -> str:
    """Text as it may reach a terminal: control, format and surrogate characters (a stored
    body or name may hold any) shown as escapes, never interpreted."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(
        character
        if character.isprintable() or character == " "
        else character.encode("unicode_escape").decode("ascii")
        for character in text
    )


def when(epoch: Any) -> str | None:
    """An epoch-seconds time as UTC ISO 8601; a value that is no time is shown as it is."""
    if epoch is None:
        return None
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError, TypeError):
        return printable(epoch)


def say(line: Any) -> None:
    console.print(printable(line), markup=False)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    _document_printed.set(True)


def show(document: Any, human: Callable[[], None] | None = None) -> None:
    """A command's result: `document` as JSON with --json, else as `human` prints it (no
    `human`: the command said it in lines already, which --json sends to stderr)."""
    if json_wanted():
        emit_json(document)
    elif human is not None:
        human()


def warn(message: str) -> None:
    """A line on stderr that a person (or a script's log) must see, in either mode."""
    errors.print(f"warning: {printable(message)}", style="yellow", markup=False)


def emit_records(title: str, records: Iterable[Record]) -> None:
    """A heading, then each record as aligned `label  value` lines, a blank line between."""
    console.print(printable(title), style="bold", markup=False)
    for record in records:
        rows = [(label, value) for label, value in record if value not in (None, "")]
        width = max((len(label) for label, _ in rows), default=0)
        console.print()
        for label, value in rows:
            say(f"{label:<{width}}  {printable(value)}")


class CurrentStderr:
    """Whatever sys.stderr is when a line is written (a test runner swaps it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, and the exit code (1: refused, 2: nothing to talk to); with
    --json also the one document a script reads: {"error": ..., "exitCode": ...}."""
    errors.print(printable(message), style="red", markup=False)
    if json_wanted() and not _document_printed.get():
        emit_json({"error": message, "exitCode": code})
    raise typer.Exit(code)
