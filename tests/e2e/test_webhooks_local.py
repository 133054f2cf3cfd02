"""Webhooks on the local stack, for real: `paygate listen` registers a loopback endpoint,
verifies each signature and prints each event; payments made over HTTP are told each
status they reach. The CLI's webhooks and events commands on the same stack."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_local_stack import pay, wait_final

Listen = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def listen(stack: RunningStack) -> Iterator[Listen]:
    """Starts `paygate listen` on the shared stack; whatever a test leaves running is
    stopped as Ctrl-C does (its endpoint removed), so a failing test never leaves endpoints
    for the next one."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "cli.main", "--state-file", str(stack.state_file)]
        process = subprocess.Popen(
            [*command, "listen", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "listening for" in first, first + (process.stderr.read() if process.stderr else "")
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def _seen(output: str, payment_id: str) -> list[tuple[int, str, str]]:
    """(version, event type, status) of each printed event of the payment, by version."""
    seen = []
    for line in output.splitlines():
        if payment_id in line and line.startswith("payment."):
            parts = line.split()
            seen.append((int(parts[2].removeprefix("v")), parts[0], parts[3]))
    return sorted(seen)


def test_listen_sees_processing_then_accepted_and_pending_then_accepted(
    stack: RunningStack, listen: Listen
) -> None:
    listening = listen("--count", "5")

    accepted = pay(stack, 1250)
    pending = pay(stack, 24)
    out, err = listening.communicate(timeout=120)

    assert listening.returncode == 0, err
    assert _seen(out, accepted) == [
        (2, "payment.processing", "Processing"),
        (3, "payment.accepted", "Accepted"),
    ]
    assert [t for _, t, _ in _seen(out, pending)] == [
        "payment.processing",
        "payment.pending",
        "payment.accepted",
    ]
    assert "REJECTED" not in out and "4111" not in out
    # Its endpoint was removed when it stopped
    assert json.loads(stack.cli("webhooks", "list", "--json")) == []


def test_events_list_shows_a_payments_deliveries_and_replay_delivers_again(
    stack: RunningStack, listen: Listen
) -> None:
    listening = listen("--events", "payment.accepted", "--count", "2")
    payment_id = pay(stack, 1250)
    wait_final(stack, payment_id)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = json.loads(stack.cli("events", "list", "--payment-id", payment_id, "--json"))
        if len(events) == 2 and events[1]["deliveries"]:
            break
        time.sleep(0.5)
    assert [e["type"] for e in events] == ["payment.processing", "payment.accepted"]
    assert events[1]["deliveries"][0]["state"] == "delivered"

    dry = stack.cli("webhooks", "replay", "--payment-id", payment_id, "--dry-run")
    assert "would replay 1 deliveries" in dry
    stack.cli("webhooks", "replay", "--payment-id", payment_id)
    out, err = listening.communicate(timeout=60)

    assert listening.returncode == 0, err
    # The same event twice: receivers dedupe on its id
    ids = [
        line.split("[")[-1].rstrip("]") for line in out.splitlines() if "payment.accepted" in line
    ]
    assert len(ids) == 2 and len(set(ids)) == 1


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_listen_killed_or_hung_up_on_removes_its_endpoint(
    stack: RunningStack, listen: Listen, stop: signal.Signals
) -> None:
    # GIVEN a listener, its endpoint registered
    listening = listen()
    [endpoint] = json.loads(stack.cli("webhooks", "list", "--json"))
    assert "/paygate-listen" in endpoint["url"]

    # WHEN it is killed (SIGTERM) or its terminal closes (SIGHUP)
    listening.send_signal(stop)
    out, err = listening.communicate(timeout=60)

    # THEN it stops as after Ctrl-C: its endpoint is gone, nothing is left retrying
    assert listening.returncode == 0, err
    assert "stopped after 0 events" in out
    assert json.loads(stack.cli("webhooks", "list", "--json")) == []
