"""How the paygate command prints: records of `label  value` lines that are never cut
short (an id copied from the output is the whole id, on a terminal of any width or in a
pipe), or JSON for scripts (`--json`)."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

console = Console(soft_wrap=True, highlight=False, emoji=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)

Record = Sequence[tuple[str, Any]]
# Every command that prints records takes it.
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


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
    """One line on stderr, and the exit code (1: refused, 2: nothing to talk to)."""
    errors.print(printable(message), style="red", markup=False)
    raise typer.Exit(code)
