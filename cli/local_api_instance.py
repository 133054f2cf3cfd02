"""One more instance of the local API, in a process of its own: Lambda runs many instances
of a function at once, each handling one event at a time, and so does the local stack.
Its settings come from the environment; it shares the port of the first instance."""

from __future__ import annotations

import argparse

from cli.child_process import serve_until_stopped
from cli.local_api import LocalApiGateway, serve
from cli.local_logging import use_terminal_logs
from cli.local_state import default_state_file, keys_changed_marker
from core.bootstrap import services

READY = "ready"


def main() -> None:
    parser = argparse.ArgumentParser(description="an extra instance of paygate's local API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--listening-fd", type=int, required=True)
    arguments = parser.parse_args()
    use_terminal_logs()
    deps = services()
    gateway = LocalApiGateway(
        deps,
        deps.settings.aws_region,
        keys_changed=keys_changed_marker(default_state_file()),
    )
    server = serve(gateway, arguments.host, arguments.port, listening=arguments.listening_fd)
    serve_until_stopped(server, READY)


if __name__ == "__main__":
    main()
