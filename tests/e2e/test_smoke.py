"""`paygate smoke` run for real against the local stack: every scenario passes, its key is
revoked and the bank's switch put back afterwards; with the bank down it fails, says
which checks failed, and exits 1."""

from __future__ import annotations

import json
import subprocess
import sys

from cli.local_process import RunningStack
from cli.smoke import SMOKE_MERCHANT, TEST_CARD


def _smoke(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--state-file", str(stack.state_file), "smoke", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_smoke_run_passes_every_scenario_and_cleans_up(bank_restored: RunningStack) -> None:
    stack = bank_restored
    stack.cli("bank", "timeouts", "on")

    result = _smoke(stack, "--dlq-wait", "120", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is True
    names = [check["name"] for check in report["checks"]]
    assert names == [
        "an unknown API key is refused",
        "create-payment",
        "amount 1250 ends Accepted",
        "amount 1 ends Declined",
        "amount 2 ends InsufficientFunds",
        "amount 24 ends Accepted via Pending",
        "amount 503 ends Accepted",
        "get-payment shows the card masked",
        "list-payments lists every payment made",
        "amount 504: DLQ, replay, Accepted",
    ]
    assert all(check["passed"] for check in report["checks"])
    assert TEST_CARD not in result.stdout + result.stderr
    # The run's key is revoked, and the bank's switch is as it was found
    merchants = json.loads(stack.cli("merchants", "list", "--json"))
    (smoke,) = [m for m in merchants if m["merchantId"] == SMOKE_MERCHANT]
    assert smoke["keys"] and all(key["revokedAt"] for key in smoke["keys"])
    assert "timeouts on" in stack.cli("bank", "status")


def test_with_the_bank_down_the_smoke_run_fails_and_says_where(
    bank_restored: RunningStack,
) -> None:
    stack = bank_restored
    stack.cli("bank", "outage", "on")

    result = _smoke(stack, "--skip-dlq", "--settle", "2")

    assert result.returncode == 1
    assert "FAIL amount 1250 ends Accepted" in result.stdout
    assert "ok   create-payment" in result.stdout
    assert "smoke FAILED" in result.stdout
