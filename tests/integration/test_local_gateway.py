"""The local API gateway as a client reaches it over HTTP (in-process, on moto): what API
Gateway would answer for odd requests, and the authorizer's failures never cached."""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from cli.local_api import LocalApiGateway, serve
from core.bootstrap import Services
from tests.conftest import REGION
from tests.faults import throttle
from tests.integration.gateway_support import served_gateway


@pytest.fixture
def gateway(services: Services) -> Iterator[tuple[int, str]]:
    key = services.merchants.create_merchant(
        "merchant-a", "Merchant A", created_at=0, actor="test"
    ).api_key
    with served_gateway(services) as port:
        yield port, key


def _send(port: int, headers: list[tuple[str, str]], body: bytes = b"") -> tuple[int, Any, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("POST", "/create-payment")
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders(body or None)
    response = connection.getresponse()
    answer = (response.status, response.headers, json.loads(response.read() or b"null"))
    connection.close()
    return answer


def _create(port: int, key: str) -> tuple[int, Any, Any]:
    body = json.dumps({"merchantId": "merchant-a"}).encode()
    return _send(
        port,
        [
            ("Authorization", f"Bearer {key}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ],
        body,
    )


def test_a_failed_key_lookup_is_a_503_that_is_not_cached(
    gateway: tuple[int, str], services: Services
) -> None:
    # GIVEN the merchants table failing once
    port, key = gateway
    with throttle(services.clients.dynamodb, "GetItem"):
        # WHEN the merchant calls, then calls again at once
        failed = _create(port, key)
    retried = _create(port, key)

    # THEN a retryable 503 first, and the merchant is not locked out afterwards
    assert failed[0] == 503
    assert failed[2]["failCode"] == "service_unavailable"
    assert failed[1]["Retry-After"] == "1"
    assert failed[1]["Request-Id"]
    assert retried[0] == 201


@pytest.mark.parametrize("first", ["Bearer pg_wrongwrongwrongwrongwrong", None])
def test_two_authorization_headers_are_refused(gateway: tuple[int, str], first: str | None) -> None:
    port, key = gateway
    body = json.dumps({"merchantId": "merchant-a"}).encode()
    status, _, answer = _send(
        port,
        [
            ("Authorization", first or f"Bearer {key}"),
            ("Authorization", f"Bearer {key}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
        ],
        body,
    )

    assert status == 401
    assert answer["failCode"] == "unauthorized"


@pytest.mark.parametrize("length", ["-5", "ten", "1, 2"])
def test_a_bad_content_length_is_a_400_at_once(gateway: tuple[int, str], length: str) -> None:
    port, key = gateway

    status, _, answer = _send(
        port, [("Authorization", f"Bearer {key}"), ("Content-Length", length)]
    )

    assert status == 400
    assert answer["failCode"] == "malformed_request"


def test_instances_sharing_the_socket_each_stop_when_asked(services: Services) -> None:
    # GIVEN two instances of the API serving one listening socket, as `paygate local`
    # runs them (every instance wakes on a connection; one wins it)
    gateway = LocalApiGateway(services, REGION)
    first = serve(gateway, "127.0.0.1", 0)
    second = serve(gateway, "127.0.0.1", 0, listening=os.dup(first.fileno()))
    for server in (first, second):
        threading.Thread(target=server.serve_forever, daemon=True).start()

    # WHEN they race for a run of connections
    port = int(first.server_address[1])
    for _ in range(30):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200
        connection.close()

    # THEN each one stops when asked (the loser of the last race is not stuck in accept)
    for server in (first, second):
        stopping = threading.Thread(target=server.shutdown, daemon=True)
        stopping.start()
        stopping.join(timeout=10)
        assert not stopping.is_alive(), "an instance did not stop"
        server.server_close()
