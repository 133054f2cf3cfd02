"""`paygate listen`: receive the local stack's webhooks in the terminal, the way a payments
CLI's listen command works. It registers a loopback endpoint for the development merchant,
checks each delivery's signature, prints each event as it arrives, forwards it (body and
headers as received) when asked, and removes the endpoint when it stops."""

from __future__ import annotations

import json
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.domain.webhook_signature import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    WebhookSignatureError,
    verify_signature,
)

LISTEN_PATH = "/paygate-listen"
FORWARD_TIMEOUT_SECONDS = 10
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def describe(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    reason = f" ({data['failCode']})" if data.get("failCode") else ""
    return (
        f"{event.get('type', '?'):<28} {event.get('paymentId', '?')}  "
        f"v{event.get('version', '?')}  {data.get('status', '?')}{reason}  [{event.get('id')}]"
    )


def forward(url: str, body: bytes, headers: dict[str, str]) -> str:
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (the user's URL)
    for name in (SIGNATURE_HEADER, EVENT_ID_HEADER):
        if name in headers:
            request.add_header(name, headers[name])
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=FORWARD_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return f"-> {url} {answer.status}"
    except urllib.error.HTTPError as error:
        return f"-> {url} {error.code}"
    except (OSError, ValueError) as error:
        return f"-> {url} failed: {type(error).__name__}: {error}"


class Listener:
    """A loopback HTTP receiver for one endpoint's deliveries."""

    def __init__(
        self,
        say: Callable[[str], None],
        *,
        forward_to: str | None = None,
        count: int | None = None,
        port: int = 0,
    ) -> None:
        self.secret = ""
        self.received = 0
        # Set when it is to stop: its `count` of events received, or a stop signal.
        self.done = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                try:
                    verify_signature(body, headers.get(SIGNATURE_HEADER, ""), [listener.secret])
                except WebhookSignatureError as error:
                    say(f"REJECTED a delivery: {error}")
                    self.send_response(400)
                    self.end_headers()
                    return
                line = describe(json.loads(body))
                if forward_to:
                    line += "  " + forward(forward_to, body, headers)
                say(line)
                self.send_response(200)
                self.end_headers()
                listener.received += 1
                if count is not None and listener.received >= count:
                    listener.done.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{LISTEN_PATH}"

    def serve(self) -> None:
        """Receive in a thread of its own. From now on a stop signal (Ctrl-C, a kill, a closed
        terminal) sets `done` as the last of `count` events does, so whoever waits on it
        removes the endpoint: a listener that just died would leave deliveries retrying
        against a closed port for days."""
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, lambda *_: self.done.set())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
