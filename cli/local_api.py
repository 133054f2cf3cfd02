"""The local API Gateway: each HTTP request becomes an API Gateway REST proxy event; the
real authorizer runs first and its context goes in `requestContext.authorizer`; the real
handler answers. Lambda runs one event at a time per instance, and powertools' logger and
metrics are per process, so invocations here are serialized too."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cli.api_docs import docs_resource
from cli.lambda_emulation import ApiStage, api_gateway_event, authorizer_event, lambda_context
from cli.local_state import DEV_MERCHANT_ID, HEALTH_PATH
from core.bootstrap import Services
from core.domain.merchants import MERCHANT_CONTEXT_KEY
from core.observability import CORRELATION_KEY, access_logger
from core.resources import AUTHORIZER_CACHE_SECONDS
from handlers import authorizer, gateway_responses
from handlers.gateway_responses import GatewayResponse
from handlers.headers import REQUEST_ID_HEADER
from handlers.openapi import LiveExample
from handlers.routes import route_of

ApiHandler = Callable[..., dict[str, Any]]
# API Gateway refuses bodies over 10 MB; this local stand-in stops at 1 MiB, and the
# handlers refuse anything over MAX_BODY_BYTES (handlers/limits.py).
MAX_REQUEST_BYTES = 1024 * 1024


class Headers(dict[str, str]):
    """A request's headers as API Gateway passes them: the last value of each name, and
    every value of each name (`multi`)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.multi: dict[str, list[str]] = {}
        for name, value in pairs:
            self.multi.setdefault(name, []).append(value)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def _gateway_answer(response: GatewayResponse, request_id: str) -> HttpAnswer:
    headers = {"Content-Type": "application/json", REQUEST_ID_HEADER: request_id}
    if response.retry_after:
        headers["Retry-After"] = str(response.retry_after)
    return HttpAnswer(response.status, headers, json.dumps(response.body(request_id)).encode())


class LocalApiGateway:
    def __init__(
        self, services: Services, region: str, *, keys_changed: Path | None = None
    ) -> None:
        self._services = services
        self._stage = ApiStage(region=region)
        self._invoke_lock = threading.Lock()
        # Like API Gateway: the authorizer's answer per Authorization header, for a while;
        # dropped at once when `keys_changed` is touched (a key was revoked locally).
        self._policies: dict[str, tuple[float, dict[str, Any] | GatewayResponse]] = {}
        self._keys_changed = keys_changed
        self._keys_seen = self._keys_stamp()

    def live_example(self) -> LiveExample:
        """A fresh payment of the development merchant, and its newest webhook endpoint, for
        the docs page's examples."""
        with self._invoke_lock:
            payment = self._services.payment_service.create_payment(
                DEV_MERCHANT_ID, DEV_MERCHANT_ID
            )
            endpoints = self._services.webhook_endpoint_service.list_of(
                DEV_MERCHANT_ID, DEV_MERCHANT_ID
            )
        newest = max(endpoints, key=lambda endpoint: endpoint.created_at, default=None)
        return LiveExample(
            payment.payment_id, DEV_MERCHANT_ID, newest.endpoint_id if newest else None
        )

    def _keys_stamp(self) -> int:
        try:
            return self._keys_changed.stat().st_mtime_ns if self._keys_changed else 0
        except OSError:
            return 0

    def _forget_policies_if_keys_changed(self) -> None:
        stamp = self._keys_stamp()
        if stamp != self._keys_seen:
            self._keys_seen = stamp
            self._policies.clear()

    def _invoke(self, handler: ApiHandler, event: dict[str, Any], name: str) -> dict[str, Any]:
        with self._invoke_lock:
            return handler(event, lambda_context(name), self._services)

    def _authorize(
        self, method: str, path: str, headers: Headers, request_id: str
    ) -> dict[str, Any] | GatewayResponse:
        identity = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not identity:
            return gateway_responses.UNAUTHORIZED
        sent = sum(len(v) for k, v in headers.multi.items() if k.lower() == "authorization")
        self._forget_policies_if_keys_changed()
        cached = self._policies.get(identity)
        if cached and cached[0] > time.monotonic() and sent == 1:
            return cached[1]
        answer, cacheable = self._run_authorizer(method, path, headers, request_id)
        if cacheable:
            self._policies[identity] = (time.monotonic() + AUTHORIZER_CACHE_SECONDS, answer)
        return answer

    def _run_authorizer(
        self, method: str, path: str, headers: Headers, request_id: str
    ) -> tuple[dict[str, Any] | GatewayResponse, bool]:
        """The authorizer's answer and whether API Gateway would cache it: a policy, yes;
        a refusal (401) or a failure of the authorizer (503), never."""
        event = authorizer_event(
            self._stage,
            method,
            path,
            request_id=request_id,
            headers=dict(headers),
            multi_value_headers=headers.multi,
        )
        try:
            policy = self._invoke(authorizer.handle, event, "paygate-authorizer")
        except Exception as error:
            if str(error) == authorizer.UNAUTHORIZED:
                return gateway_responses.UNAUTHORIZED, False
            return gateway_responses.AUTHORIZER_UNAVAILABLE, False
        statement = policy["policyDocument"]["Statement"][0]
        if statement["Effect"] != "Allow":
            return gateway_responses.ACCESS_DENIED, True
        return dict(policy.get("context", {})), True

    def handle(self, method: str, target: str, headers: Headers, body: bytes) -> HttpAnswer:
        """Answer one request as API Gateway would, and log one access line for it (as API
        Gateway's access log does): method, route, status, time, request id, merchant."""
        started = time.monotonic()
        request_id = _request_id()
        path = urlsplit(target).path
        answer, merchant_id = self._answer(method, target, headers, body, request_id)
        known = route_of(method, path) is not None
        access_logger.info(
            "request",
            extra={
                "source": "gateway",
                "method": method if known else "-",
                # Only a known route: a path a client made up is never written to the logs.
                "path": path if known else "(no such route)",
                "status": answer.status,
                "ms": round((time.monotonic() - started) * 1000, 1),
                CORRELATION_KEY: request_id,
                "merchantId": merchant_id or "-",
            },
        )
        return answer

    def _answer(
        self, method: str, target: str, headers: Headers, body: bytes, request_id: str
    ) -> tuple[HttpAnswer, str | None]:
        url = urlsplit(target)
        route = route_of(method, url.path)
        if route is None:
            return _gateway_answer(gateway_responses.ROUTE_NOT_FOUND, request_id), None
        authorized = self._authorize(method, url.path, headers, request_id)
        if isinstance(authorized, GatewayResponse):
            return _gateway_answer(authorized, request_id), None
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        event = api_gateway_event(
            self._stage,
            method,
            url.path,
            request_id=request_id,
            headers=dict(headers),
            multi_value_headers=headers.multi,
            query=query,
            body=body,
            authorizer_context=authorized,
        )
        response = self._invoke(route.entry_point(), event, f"paygate-{route.name}")
        answer = HttpAnswer(
            int(response["statusCode"]),
            response_headers(response),
            (response.get("body") or "").encode(),
        )
        return answer, str(authorized.get(MERCHANT_CONTEXT_KEY) or "") or None


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    """A proxy response's headers, single- and multi-valued, as API Gateway merges them."""
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(value) for value in values)
    return headers


def _request_id() -> str:
    return str(uuid.uuid4())


def _content_length(values: list[str]) -> int | None:
    """The body's length, or None if the header is not one non-negative decimal number."""
    if not values:
        return 0
    if len(set(values)) != 1 or not values[0].strip().isdecimal():
        return None
    return int(values[0].strip())


def serve(
    gateway: LocalApiGateway, host: str, port: int, *, listening: int | None = None
) -> ThreadingHTTPServer:
    """Bind (OSError if the port is taken) and return the server; call serve_forever().

    More API instances (processes of their own, as Lambda runs more instances) serve the
    same socket: they inherit its descriptor (`listening`) and the kernel hands each
    connection to one of them. Nothing else can bind the port meanwhile."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = _content_length(self.headers.get_all("Content-Length") or [])
            if length is None:
                self._send(_gateway_answer(gateway_responses.BAD_CONTENT_LENGTH, _request_id()))
                self.close_connection = True
                return
            if length > MAX_REQUEST_BYTES:
                self._send(_gateway_answer(gateway_responses.PAYLOAD_TOO_LARGE, _request_id()))
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            if self.command == "GET" and urlsplit(self.path).path == HEALTH_PATH:
                self._send(HttpAnswer(200, {"Content-Type": "application/json"}, b'{"ok":true}'))
                return
            if self.command == "GET":
                base_url = f"http://{self.headers.get('Host', 'localhost')}"
                docs = docs_resource(urlsplit(self.path).path, base_url, gateway.live_example)
                if docs is not None:
                    content_type, content = docs
                    self._send(HttpAnswer(200, {"Content-Type": content_type}, content))
                    return
            headers = Headers(list(self.headers.items()))
            self._send(gateway.handle(self.command, self.path, headers, body))

        def _send(self, answer: HttpAnswer) -> None:
            self.send_response(answer.status)
            headers = {REQUEST_ID_HEADER: _request_id()} | answer.headers
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def __getattr__(self, name: str) -> Any:
            # http.server looks up `do_<METHOD>`; API Gateway answers every method, those
            # no route has with the gateway's own 404.
            if name.startswith("do_"):
                return self._answer
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    if listening is None:
        server = _ApiServer((host, port), Handler)
    else:
        server = _ApiServer((host, port), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = socket.socket(fileno=listening)
        server.server_address = server.socket.getsockname()
    # Every process sharing the socket wakes on a new connection and one wins it; the
    # others must find nothing to accept rather than block in accept(), where they could
    # not notice shutdown().
    server.socket.setblocking(False)
    return server


class _ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections under a burst of clients.
    request_queue_size = 128
