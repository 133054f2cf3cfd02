"""`make run` as people really use it: the documented timings with no overrides, started
twice, a stale state file, the CLI from a subfolder, a key that survives restarts, and a
banner whose curl line can be pasted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pytest

from cli.http_client import http_request
from cli.local_process import RunningStack, start_stack, stop_stack
from cli.local_stack import LOCAL_TUNING
from tests.e2e.test_local_stack import get, pay

ROOT = Path(__file__).resolve().parents[2]


def _paygate(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PAYGATE_STATE_FILE"}
        | {"PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
    )


@pytest.fixture(scope="module")
def documented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack started as `make run` starts it: no PAYGATE_* setting in the environment."""
    directory = tmp_path_factory.mktemp("documented")
    stack = start_stack(directory, clean_env=True)
    yield stack
    stop_stack(stack)


def test_the_local_timings_are_the_ones_the_readme_promises(documented: RunningStack) -> None:
    # GIVEN a stack with no overrides
    environment = documented.state["environment"]
    assert {k: environment[k] for k in LOCAL_TUNING} == {str(k): v for k, v in LOCAL_TUNING.items()}

    # WHEN amount 24 and amount 504 are paid
    started = time.monotonic()
    pending = pay(documented, 24)
    timed_out = pay(documented, 504)

    # THEN 24 is Accepted within a few seconds (README: about 2 seconds after Pending)
    documented.wait_for(
        lambda: get(documented, pending).body["status"] == "Accepted", 8, "amount 24 accepted"
    )
    accepted_after = time.monotonic() - started
    # AND 504 lands in the DLQ within the README's "about 30 seconds"
    documented.wait_for(
        lambda: timed_out in documented.cli("dlq", "list"), 45, "amount 504 in the DLQ"
    )
    dead_lettered_after = time.monotonic() - started
    assert accepted_after < 8
    assert dead_lettered_after < 45


def test_a_second_start_is_refused_and_leaves_the_running_stack_alone(
    documented: RunningStack, tmp_path: Path
) -> None:
    # WHEN `make run` is typed again with the same state file (any port)
    again = _paygate(
        "--state-file", str(documented.state_file), "local", "--port", "0", cwd=tmp_path
    )

    # THEN it says where the running one is, and changes nothing
    assert again.returncode == 1
    assert f"already running at {documented.url}" in again.stderr
    assert json.loads(documented.state_file.read_text())["pid"] == documented.process.pid
    assert "jobs waiting" in documented.cli("status")


def test_the_cli_finds_the_state_file_from_a_subfolder(
    documented: RunningStack, tmp_path: Path
) -> None:
    # GIVEN a project folder whose .paygate/local.json describes the running stack
    (tmp_path / ".paygate").mkdir()
    (tmp_path / ".paygate" / "local.json").write_text(documented.state_file.read_text())
    deep = tmp_path / "src" / "deep"
    deep.mkdir(parents=True)

    # WHEN a command runs from a subfolder
    status = _paygate("status", "--json", cwd=deep)

    # THEN it found the stack
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["target"] == "local"


def test_a_stale_state_file_is_one_clear_line(documented: RunningStack, tmp_path: Path) -> None:
    # GIVEN a state file left by a stack that crashed (its process is gone)
    gone = subprocess.Popen(["true"])
    gone.wait()
    state = tmp_path / ".paygate" / "local.json"
    state.parent.mkdir()
    state.write_text(json.dumps(documented.state | {"pid": gone.pid}))

    # WHEN the CLI is asked for the status
    status = _paygate("status", cwd=tmp_path)

    # THEN one line says so, not a traceback
    assert status.returncode == 2
    lines = [line for line in status.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, status.stderr
    assert "no local stack is running" in lines[0]
    assert "gone" in lines[0]


def test_a_restart_keeps_the_development_key_and_the_banner_can_be_pasted(
    tmp_path: Path,
) -> None:
    # GIVEN a stack started, stopped and started again on the same folder
    first = start_stack(tmp_path)
    key = first.api_key
    assert stop_stack(first) == 0
    second = start_stack(tmp_path)
    try:
        # THEN the key is the same, and the banner shows the docs URL and a curl line
        # that runs as printed
        assert second.api_key == key
        log = tmp_path / "stack.log"
        second.wait_for(lambda: f"{second.url}/docs" in log.read_text(), 10, "the banner")
        banner = log.read_text()
        curls = [line for line in banner.splitlines() if line.startswith("curl ")]
        assert curls, banner
        created = subprocess.run(
            ["bash", "-c", curls[-1]], capture_output=True, text=True, timeout=30, check=False
        )
        assert json.loads(created.stdout)["status"] == "Created"
        assert "replacing" not in banner
    finally:
        stop_stack(second)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["PORT=8431", "AWS_PORT=4571"], "local --port 8431 --aws-port 4571"),
        ([], "local"),
    ],
)
def test_make_run_takes_its_ports_from_the_command_line(
    arguments: list[str], expected: str
) -> None:
    # `make -n` prints what `make run` would run, without running it.
    printed = subprocess.run(
        ["make", "-n", "run", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    command = next(line for line in printed.splitlines() if "paygate local" in line)
    assert command.rstrip().endswith(f"paygate {expected}"), command


def _start_two_at_once(states: list[Path], api_port: int) -> list[tuple[bool, str]]:
    """Start two stacks at the same moment; for each, whether it kept running (then stop
    it) or what it said when it exited with 1."""
    stacks = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "cli.main", "--state-file", str(state)),
                *("local", "--port", str(api_port), "--aws-port", "0"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for state in states
    ]
    # Settled once each has either exited or written its state file (it serves).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
        stack.poll() is not None or _serving(stack, state)
        for stack, state in zip(stacks, states, strict=True)
    ):
        time.sleep(0.1)
    outcomes = []
    for stack in stacks:
        code = stack.poll()
        if code is None:
            outcomes.append((True, ""))
        else:
            said = stack.stderr.read() if stack.stderr else ""
            outcomes.append((False, said if code == 1 else f"exit {code}: {said}"))
    for stack in stacks:
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
            stack.wait(timeout=30)
    return outcomes


def _serving(stack: subprocess.Popen[str], state: Path) -> bool:
    try:
        return bool(json.loads(state.read_text()).get("pid") == stack.pid)
    except (OSError, ValueError, AttributeError):
        return False


def test_two_stacks_started_at_once_never_share_a_port_or_a_state_file(tmp_path: Path) -> None:
    # GIVEN a free port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    # WHEN two stacks start on it at the same moment (state files of their own), and then
    # two more on one state file
    on_one_port = _start_two_at_once([tmp_path / "a.json", tmp_path / "b.json"], port)
    on_one_file = _start_two_at_once([tmp_path / "c.json", tmp_path / "c.json"], 0)

    # THEN exactly one of each pair ran; the other said why
    for outcomes, why in ((on_one_port, "in use"), (on_one_file, "paygate local")):
        assert sorted(running for running, _ in outcomes) == [False, True], outcomes
        assert any(why in said for running, said in outcomes if not running), outcomes


def test_a_file_that_is_not_a_state_file_is_never_replaced(tmp_path: Path) -> None:
    project = tmp_path / "package.json"
    project.write_text('{"name": "not paygate"}')

    refused = _paygate("--state-file", str(project), "local", "--port", "0", cwd=tmp_path)

    assert refused.returncode == 1
    assert "not a state file" in refused.stderr
    assert project.read_text() == '{"name": "not paygate"}'


def test_ctrl_c_after_a_burst_of_requests_stops_every_process(tmp_path: Path) -> None:
    # GIVEN a stack whose API instances have all been woken by a burst of connections
    # (every process sharing the socket wakes; one wins each connection)
    stack = start_stack(tmp_path)
    processes = [
        stack.process.pid,
        stack.state["workerPid"],
        stack.state["emulatorPid"],
        *stack.state["apiInstancePids"],
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: stack.request("GET", "/health").status, range(64)))
    assert answers == [200] * 64

    # WHEN it gets Ctrl-C
    code = stop_stack(stack)

    # THEN it exits cleanly and none of its processes outlives it
    assert code == 0
    stack.wait_for(lambda: not any(_alive(pid) for pid in processes), 10, "every process gone")
    assert not stack.state_file.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _first_document(output: IO[str]) -> tuple[str, dict[str, Any]]:
    """What a script reads from `paygate local --json`: lines until they hold one JSON
    document (or the output ends); the text read and the document."""
    read = ""
    for line in output:
        read += line
        if not read.startswith("{"):
            break
        try:
            return read, json.loads(read)
        except ValueError:
            continue
    raise AssertionError(f"stdout does not begin with a JSON document: {read!r}")


def test_local_with_json_prints_its_ready_document_alone_on_stdout(tmp_path: Path) -> None:
    # GIVEN a stack started by a script with --json, its logs kept apart
    with (tmp_path / "stderr.log").open("w") as logs:
        stack = subprocess.Popen(
            [
                *(sys.executable, "-m", "cli.main", "--state-file", str(tmp_path / "l.json")),
                *("local", "--port", "0", "--aws-port", "0", "--json"),
            ],
            stdout=subprocess.PIPE,
            stderr=logs,
            text=True,
            cwd=ROOT,
        )
    assert stack.stdout is not None
    try:
        read, ready = _first_document(stack.stdout)

        # WHEN it serves requests (each API instance, in this process or a child, logs)
        for _ in range(4):
            created = http_request(
                ready["apiUrl"],
                "POST",
                "/create-payment",
                ready["apiKey"],
                {"merchantId": ready["merchantId"]},
            )
            assert created.status == 201
    finally:
        stack.send_signal(signal.SIGINT)
        rest, _ = stack.communicate(timeout=60)

    # THEN stdout held the ready document and nothing else; the logs went to stderr
    assert json.loads(read + rest) == ready
    assert set(ready) >= {"apiUrl", "apiKey", "merchantId", "awsEndpointUrl", "stateFile"}
    assert "create-payment" in (tmp_path / "stderr.log").read_text()
