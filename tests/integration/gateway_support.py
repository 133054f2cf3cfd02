"""The local API gateway served in-process (on moto), with a state file describing it, so
the paygate CLI and HTTP clients can be driven against it in integration tests."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli.local_api import LocalApiGateway, serve
from cli.local_state import keys_changed_marker
from core.bootstrap import Services
from tests.conftest import REGION, AwsEnv


@contextmanager
def served_gateway(services: Services, state_file: Path | None = None) -> Iterator[int]:
    """Serve the gateway on a free port; yields the port."""
    marker = keys_changed_marker(state_file) if state_file else None
    server = serve(LocalApiGateway(services, REGION, keys_changed=marker), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def write_state_file(path: Path, aws: AwsEnv, port: int, api_key: str | None = None) -> Path:
    """A state file as `paygate local` writes it, for this (live) process and gateway, and
    the emulator `aws` runs on (the `emulated_aws` fixture); with `api_key`, the development
    merchant's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "pid": os.getpid(),
        "url": f"http://127.0.0.1:{port}",
        "environment": aws.settings.to_env(),
        "deadLetterQueueUrl": aws.dlq_url,
    }
    path.write_text(json.dumps(state | ({"apiKey": api_key} if api_key else {})))
    return path
