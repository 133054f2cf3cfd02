"""What identifies a request: a SHA-256 of a document in canonical JSON. Callers pass only
what may be kept (make-payment passes what excludes the PAN and CVV)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def fingerprint(document: Any) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
