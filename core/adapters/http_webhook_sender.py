"""POSTs a webhook to a merchant's endpoint, safely: the host is resolved here, every
address it resolves to is checked (core/domain/webhook_urls.py), and the connection goes
to the checked address, so DNS cannot point a delivery into a network between the check
and the connection (rebinding). TLS still verifies the certificate of the URL's host.
The timeout is one deadline for the whole exchange (connect, TLS, request, answer): a
receiver that trickles its answer a byte at a time is cut off when it runs out. It is the
fast lane's, or in the slow lane the whole DELIVERY_TIMEOUT_SECONDS; a connection has a
shorter time of its own. In the fast lane a send still unanswered after the patience waits
on only if the caller says so (its merchant's places for slow sends)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from core.domain.webhook_retry import (
    CONNECT_TIMEOUT_SECONDS,
    DELIVERY_TIMEOUT_SECONDS,
    FAST_LANE_PATIENCE_SECONDS,
    FAST_LANE_SECONDS,
    REGISTRATION_RESOLVE_SECONDS,
)
from core.domain.webhook_urls import (
    EndpointUrl,
    InvalidWebhookUrlError,
    address_refused,
    check_endpoint_url,
)
from core.domain.webhooks import SendResult

USER_AGENT = "paygate-webhooks/1"


def _connect(address: str, port: int, timeout: float | None) -> socket.socket:
    """Connected within CONNECT_TIMEOUT_SECONDS (or `timeout`, if shorter); the socket then
    waits up to `timeout` for each read."""
    seconds = CONNECT_TIMEOUT_SECONDS if timeout is None else min(timeout, CONNECT_TIMEOUT_SECONDS)
    sock = socket.create_connection((address, port), seconds)
    sock.settimeout(timeout)
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, address: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, address: str, context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(context=context, **kwargs)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = _connect(self._address, self.port, self.timeout)
        # Handshake after self.sock is set, so the deadline can cut a slow one short.
        self.sock = self._tls.wrap_socket(
            raw, server_hostname=self.host, do_handshake_on_connect=False
        )
        self.sock.do_handshake()


class _Deadline:
    """Shuts a connection's socket down when the time is up, whatever it is waiting for;
    with `keep_waiting`, also after `patience` seconds unless it answers True then."""

    def __init__(
        self,
        connection: http.client.HTTPConnection,
        seconds: float,
        patience: float | None = None,
        keep_waiting: Callable[[], bool] | None = None,
    ) -> None:
        self._connection = connection
        self.passed = threading.Event()
        # Cut after the patience, not at the deadline.
        self.impatient = False
        self._patience = patience or 0.0
        self._timers = [threading.Timer(seconds, self._cut)]
        if keep_waiting is not None and patience is not None and patience < seconds:
            self._timers.append(threading.Timer(patience, self._ask, args=(keep_waiting,)))
        for timer in self._timers:
            timer.daemon = True

    def _ask(self, keep_waiting: Callable[[], bool]) -> None:
        if not keep_waiting():
            self.impatient = True
            self._cut()

    def _cut(self) -> None:
        self.passed.set()
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                # The plain socket's shutdown: a TLS socket's would tear its state down
                # under the thread reading it.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def late(self, late: SendResult, milliseconds: int) -> SendResult:
        if not self.impatient:
            return replace(late, milliseconds=milliseconds)
        why = f"no answer within {self._patience:.1f} s, its merchant's slow sends at their limit"
        return replace(late, milliseconds=milliseconds, error=why)

    def __enter__(self) -> _Deadline:
        for timer in self._timers:
            timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        for timer in self._timers:
            timer.cancel()


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _resolve_within(host: str, port: int, seconds: float) -> list[str]:
    """`resolve`, or TimeoutError after `seconds`: a resolver cannot be interrupted, so it
    runs in a thread of its own, left to finish (daemon) if it is late."""
    outcome: list[list[str] | BaseException] = []

    def run() -> None:
        try:
            outcome.append(resolve(host, port))
        except BaseException as error:  # raised again in the caller's thread
            outcome.append(error)

    resolver = threading.Thread(target=run, name=f"resolve {host}", daemon=True)
    resolver.start()
    resolver.join(seconds)
    if not outcome:
        raise TimeoutError(f"{host} did not resolve within {seconds:g} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


class HttpWebhookSender:
    def __init__(
        self,
        *,
        allow_loopback: bool,
        timeout_seconds: float = DELIVERY_TIMEOUT_SECONDS,
        fast_lane_seconds: float = FAST_LANE_SECONDS,
        patience_seconds: float = FAST_LANE_PATIENCE_SECONDS,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._timeout = timeout_seconds
        self._fast_lane = min(fast_lane_seconds, timeout_seconds)
        self._patience = patience_seconds
        self._tls = tls or ssl.create_default_context()

    def safe_address(self, url: str, resolve_seconds: float) -> tuple[EndpointUrl, str]:
        """The URL's parts and the address to connect to; InvalidWebhookUrlError if the URL,
        or any address its host resolves to, may not be called; TimeoutError if its host
        does not resolve within `resolve_seconds`."""
        parsed = check_endpoint_url(url, allow_loopback=self._allow_loopback)
        try:
            addresses = _resolve_within(parsed.host, parsed.port, resolve_seconds)
        except TimeoutError:  # an OSError too, but no answer in time is not a refusal
            raise
        except (OSError, ValueError):  # UnicodeError: a name the resolver cannot encode
            raise InvalidWebhookUrlError(f"{parsed.host} does not resolve") from None
        if not addresses:
            raise InvalidWebhookUrlError(f"{parsed.host} does not resolve")
        for address in addresses:
            reason = address_refused(address, allow_loopback=self._allow_loopback)
            if reason:
                raise InvalidWebhookUrlError(f"{parsed.host} resolves to {reason}")
        return parsed, addresses[0]

    def check(self, url: str) -> None:
        """At registration: a host that does not resolve within the shorter check budget is
        refused (422), so the route answers within its function's timeout."""
        try:
            self.safe_address(url, REGISTRATION_RESOLVE_SECONDS)
        except TimeoutError:
            raise InvalidWebhookUrlError(
                f"the URL's host did not resolve within {REGISTRATION_RESOLVE_SECONDS:g} s"
            ) from None

    def send(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        slow_lane: bool = False,
        keep_waiting: Callable[[], bool] | None = None,
    ) -> SendResult:
        started = time.monotonic()
        budget = self._timeout if slow_lane else self._fast_lane

        def took() -> int:
            return round((time.monotonic() - started) * 1000)

        late = SendResult(0, error=f"no answer within {budget:g} s", timed_out=True)
        try:
            parsed, address = self.safe_address(url, budget)
        except InvalidWebhookUrlError as error:
            return SendResult(took(), error=f"refused: {error.reason}")
        except TimeoutError:
            return replace(late, milliseconds=took())
        remaining = budget - (time.monotonic() - started)
        if remaining <= 0:
            return replace(late, milliseconds=took())
        connection: http.client.HTTPConnection
        if parsed.scheme == "https":
            connection = _PinnedHTTPSConnection(
                address, self._tls, host=parsed.host, port=parsed.port, timeout=remaining
            )
        else:
            connection = _PinnedHTTPConnection(
                address, host=parsed.host, port=parsed.port, timeout=remaining
            )
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        patience = None if slow_lane else self._patience - (time.monotonic() - started)
        with _Deadline(connection, remaining, patience, keep_waiting) as deadline:
            try:
                connection.request(
                    "POST",
                    target,
                    body=body,
                    headers=headers
                    | {"Content-Type": "application/json", "User-Agent": USER_AGENT},
                )
                response = connection.getresponse()
                response.read(64 * 1024)
                if deadline.passed.is_set():
                    return deadline.late(late, took())
                ms = took()
                return SendResult(
                    ms, status=response.status, fast_enough=ms <= self._fast_lane * 1000
                )
            except (OSError, http.client.HTTPException) as error:
                # A connection not made in time (socket.timeout is TimeoutError) is late too.
                if deadline.passed.is_set() or isinstance(error, TimeoutError):
                    return deadline.late(late, took())
                return SendResult(took(), error=f"{type(error).__name__}: {error}"[:300])
            finally:
                connection.close()
