"""Child processes of the local stack talk to it on stdout first (ready, which port), then
just log: their further output is copied to ours, since a pipe left unread fills and
stalls the child."""

from __future__ import annotations

import sys
import threading
from typing import IO


def forward_output(stream: IO[str]) -> None:
    def copy() -> None:
        for line in stream:
            sys.stdout.write(line)

    threading.Thread(target=copy, name="child-output", daemon=True).start()
