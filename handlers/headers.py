"""The HTTP headers of paygate's API, named once for the handlers, the local gateway, the
CDK stack's gateway responses and the OpenAPI document."""

from __future__ import annotations

# On every response: the same id as `requestId` in error bodies, the correlation id of every
# log line of the request, and the correlationId of the job it queued.
REQUEST_ID_HEADER = "Request-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETRY_AFTER_HEADER = "Retry-After"
