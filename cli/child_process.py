"""The local stack's child processes (AWS emulator, extra API instances): a child serves
until told to stop (SIGTERM, SIGINT) or until its parent is gone, so none outlives the
stack; it talks to its parent on stdout first (ready, which port), then just logs, and the
parent copies that output on to its stderr (where the stack logs: its stdout is for what the
command answers), since a pipe left unread fills and stalls the child."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import IO, Protocol


class StoppableServer(Protocol):
    def serve_forever(self) -> None: ...

    def shutdown(self) -> None: ...

    def server_close(self) -> None: ...


def serve_until_stopped(server: StoppableServer, announce: str) -> None:
    """Print `announce` (the parent waits for it), then serve until stopped."""
    parent = os.getppid()

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        server.shutdown()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=watch_parent, daemon=True).start()
    print(announce, flush=True)
    server.serve_forever()
    server.server_close()


def forward_output(stream: IO[str]) -> None:
    """In the parent: copy a child's further output (its logs) to our stderr."""

    def copy() -> None:
        for line in stream:
            sys.stderr.write(line)

    threading.Thread(target=copy, name="child-output", daemon=True).start()
