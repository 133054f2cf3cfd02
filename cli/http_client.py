"""The merchant's side of the API, for the CLI and tests: one JSON request with an API
key, its status and body (errors included, as a merchant would read them)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any


def http_request(
    base_url: str,
    method: str,
    path: str,
    api_key: str,
    payload: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    """`path` ("/get-payment") under `base_url` (the local stack's, or a stack's ApiUrl
    output, with or without its trailing slash); `headers` such as Idempotency-Key."""
    url = base_url.rstrip("/") + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {base_url}")
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (checked)
    request.add_header("Authorization", f"Bearer {api_key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return HttpAnswer(response.status, json.loads(response.read() or b"null"))
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, json.loads(error.read() or b"null"))
