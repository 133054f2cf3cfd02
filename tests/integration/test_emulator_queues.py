"""The local emulator's faster SQS receives (cli/emulator.py) answer as moto's did: a delayed
message waits out its delay, a received one stays hidden for its visibility time-out, one
past the queue's retention is never handed out, and a backlog is handed out in full."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs import models as sqs_models

from cli.emulator import faster_sqs_receives


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Undone after the test: the patch is for the emulator's process only.
    monkeypatch.setattr(
        sqs_models.SQSBackend,
        "is_message_valid_based_on_retention_period",
        sqs_models.SQSBackend.is_message_valid_based_on_retention_period,
    )
    monkeypatch.setattr(sqs_models, "unix_time_millis", sqs_models.unix_time_millis)  # type: ignore[attr-defined]
    faster_sqs_receives()
    with mock_aws():
        yield boto3.client("sqs", region_name="eu-west-1")


def _bodies(sqs: Any, url: str) -> list[str]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in answer.get("Messages", [])]


def test_a_delayed_or_received_message_is_not_handed_out_again_before_its_time(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="lane", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.send_message(QueueUrl=url, MessageBody="now")

    assert _bodies(sqs, url) == ["now"]
    assert _bodies(sqs, url) == []  # "now" is in flight, "later" still delayed


def test_a_message_past_the_queues_retention_is_never_handed_out(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    queue = sqs_models.sqs_backends["123456789012"]["eu-west-1"].get_queue("short")
    old = queue._messages[0]
    setattr(old, "sent_timestamp", int(old.sent_timestamp or 0) - 61_000)  # noqa: B010 (sent 61 s ago)
    sqs.send_message(QueueUrl=url, MessageBody="new")

    handed_out = _bodies(sqs, url) + _bodies(sqs, url) + _bodies(sqs, url)

    assert handed_out == ["new"]


def test_a_backlog_is_handed_out_whole_ten_at_a_time(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
    for batch in range(30):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": f"{batch}-{n}"} for n in range(10)],
        )

    seen: list[str] = []
    while received := _bodies(sqs, url):
        assert len(received) == 10
        seen += received

    assert sorted(seen) == sorted(f"{b}-{n}" for b in range(30) for n in range(10))
