"""The structured log lines on-call reads, as the autouse `no_card_data_in_output` fixture
(tests/conftest.py) collected them: one dict per JSON line."""

from __future__ import annotations

import json
from typing import Any


def lines_saying(collector: Any, message: str) -> list[dict[str, Any]]:
    """Every line whose message is exactly `message`, in the order logged."""
    lines = [json.loads(line) for line in collector.lines if line.startswith("{")]
    return [line for line in lines if line.get("message") == message]
