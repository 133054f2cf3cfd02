"""The local stack's state file: only one `paygate local` wrote is ever used, and anything
else is one clear line, never a traceback or a request to real AWS."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cli.local_state import StateFileError, read_state

GOOD: dict[str, Any] = {
    "pid": os.getpid(),
    "url": "http://127.0.0.1:8420",
    "deadLetterQueueUrl": "http://127.0.0.1:4566/000000000000/paygate-payment-jobs-dlq",
    "environment": {"PAYGATE_AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
}


def test_a_state_file_of_the_local_stack_is_read(tmp_path: Path) -> None:
    path = tmp_path / "local.json"
    path.write_text(json.dumps(GOOD))

    state = read_state(path)

    assert (state.pid, state.url) == (os.getpid(), "http://127.0.0.1:8420")


@pytest.mark.parametrize(
    "change",
    [
        {"pid": 10**20},
        {"pid": 1e400},
        {"pid": "12"},
        {"pid": -1},
        {"environment": [1]},
        {"environment": {"PAYGATE_PAYMENTS_TABLE": "real-table"}},
        {"environment": {"PAYGATE_AWS_ENDPOINT_URL": "https://dynamodb.us-east-1.amazonaws.com"}},
        {"deadLetterQueueUrl": 5},
        {"url": "https://attacker.example"},
        {"url": "file:///etc/passwd"},
    ],
)
def test_anything_else_is_refused_in_one_line(tmp_path: Path, change: dict[str, Any]) -> None:
    path = tmp_path / "local.json"
    path.write_text(json.dumps(GOOD | change) if "1e400" not in str(change) else '{"pid": 1e400}')

    with pytest.raises(StateFileError) as refused:
        read_state(path)

    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"pid": 1}', "\udcff"])
def test_a_file_that_is_no_state_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "local.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))

    with pytest.raises(StateFileError, match="not a state file"):
        read_state(path)
