"""The answers API Gateway gives itself, before any handler runs, in our error format.

The CDK stack turns these into gateway responses; the local stack answers with them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.limits import MAX_BODY_BYTES


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    fail_code: str
    fail_reason: str
    # Seconds after which a retry may succeed (the Retry-After header), if it may.
    retry_after: int | None = None

    def body(self, request_id: str) -> dict[str, str]:
        return {"failCode": self.fail_code, "failReason": self.fail_reason, "requestId": request_id}


UNAUTHORIZED = GatewayResponse(401, "unauthorized", "missing or invalid API key")
ACCESS_DENIED = GatewayResponse(403, "access_denied", "the API key may not call this route")
THROTTLED = GatewayResponse(429, "throttled", "too many requests; slow down and retry")
# A prod stage's firewall (infra/firewall.py): too many requests from one address, or a
# request its managed rules refuse.
REQUEST_BLOCKED = GatewayResponse(
    403, "request_blocked", "the API's firewall refused the request; slow down or contact us"
)
ROUTE_NOT_FOUND = GatewayResponse(404, "route_not_found", "no such route")
PAYLOAD_TOO_LARGE = GatewayResponse(
    413, "payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes"
)
MALFORMED_BODY = GatewayResponse(400, "malformed_request", "the body must be a JSON object")
BAD_CONTENT_LENGTH = GatewayResponse(
    400, "malformed_request", "the Content-Length header is not a valid length"
)
# The authorizer failed (its own lookup, not the key): retry; API Gateway caches no failure.
AUTHORIZER_UNAVAILABLE = GatewayResponse(
    503, "service_unavailable", "the API key could not be checked just now; retry", retry_after=1
)
