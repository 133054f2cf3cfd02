"""Webhook signatures, both sides: paygate signs each delivery, a merchant's receiver checks
it with `verify_signature` (standard library only: copy this file into a receiver).

    Paygate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

While a secret is being rotated, a delivery carries one v1 per secret in use, so a
receiver holding either the old or the new secret accepts it. The HMAC key is the whole
secret as shown, `whsec_` prefix included, as its UTF-8 bytes: pass it as text or as bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Paygate-Signature"
EVENT_ID_HEADER = "Paygate-Event-Id"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
# ASCII only: str.isdigit() also takes "¹", and compare_digest refuses non-ASCII text.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class WebhookSignatureError(Exception):
    """The delivery is not from paygate, was altered, or is too old or too new to trust."""


_BYTES_LIKE = (bytes, bytearray, memoryview)


def _key(secret: str | bytes | bytearray | memoryview) -> bytes:
    if isinstance(secret, str):
        return secret.encode()
    if isinstance(secret, _BYTES_LIKE):
        return bytes(secret)
    raise TypeError(f"a secret is text or bytes, not {type(secret).__name__}")


def sign(secret: str | bytes, timestamp: int, payload: bytes) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(_key(secret), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, payload: bytes) -> str:
    signatures = ",".join(f"{SCHEME}={sign(secret, timestamp, payload)}" for secret in secrets)
    return f"t={timestamp},{signatures}"


def verify_signature(
    payload: bytes,
    header: str | bytes | bytearray | memoryview | None,
    secrets: Sequence[str | bytes | bytearray | memoryview],
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raises WebhookSignatureError unless `header` signs `payload` (the raw request body,
    as received) with one of `secrets`, at a time within `tolerance_seconds` of now (so a
    captured delivery cannot be replayed later). Compares in constant time. Each secret is
    text or bytes (its UTF-8 encoding), `whsec_` prefix included; the header too may be
    either. Empty secrets are ignored (an empty key is no secret); ValueError if no other is
    given."""
    if isinstance(secrets, (str, *_BYTES_LIKE)):
        raise TypeError("secrets is a list of secrets, not one secret: [secret]")
    keys = [_key(secret) for secret in secrets if secret]
    if not keys:
        raise ValueError("verify_signature needs at least one non-empty secret")
    if not 0 <= tolerance_seconds < float("inf"):  # NaN too: it would accept any age
        raise ValueError("tolerance_seconds is a number of seconds, 0 or more")
    if isinstance(header, _BYTES_LIKE):
        header = bytes(header).decode("ascii", errors="replace")
    if not isinstance(header, str):  # e.g. headers.get() of a request without one
        raise WebhookSignatureError("no Paygate-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == SCHEME and _HEX_DIGEST.fullmatch(value):
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError(f"no timestamp or no {SCHEME} signature in the header")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance_seconds:
        raise WebhookSignatureError(f"timestamp {age:+.0f} s away, more than {tolerance_seconds}")
    for secret in keys:
        expected = sign(secret, timestamp, payload)
        if any(hmac.compare_digest(expected, signature) for signature in signatures):
            return
    raise WebhookSignatureError("no signature matches any of the secrets")
