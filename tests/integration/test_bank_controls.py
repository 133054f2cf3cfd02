from __future__ import annotations

from core.adapters.simulated_bank import BankControlPanel
from tests.conftest import AwsEnv


def test_a_switch_set_elsewhere_is_seen_within_a_second(aws: AwsEnv) -> None:
    # GIVEN the worker's panel (its clock injected) and the CLI's, in "another process"
    now = [100.0]
    worker_panel = BankControlPanel(
        aws.dynamodb, aws.settings.bank_control_table, monotonic=lambda: now[0]
    )
    cli_panel = BankControlPanel(aws.dynamodb, aws.settings.bank_control_table)
    assert worker_panel.read().outage is False

    # WHEN the CLI switches an outage on
    cli_panel.set_outage(True)
    cli_panel.set_latency(200)

    # THEN the worker keeps its reading for up to a second, then sees the switches
    assert worker_panel.read().outage is False
    now[0] += 1.0
    controls = worker_panel.read()
    assert (controls.outage, controls.latency_ms, controls.timeouts) == (True, 200, True)
