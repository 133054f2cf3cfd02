"""The API's size limits, written once: the handlers enforce them, the gateway's answers
and the OpenAPI document state them. Pure data (infra imports it)."""

MAX_BODY_BYTES = 16 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 255
