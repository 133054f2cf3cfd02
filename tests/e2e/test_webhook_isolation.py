"""One merchant cannot slow another's webhooks (issue #25): on the local stack, merchant B's
16 endpoints hold every POST for 12 s while B keeps paying; merchant A's webhook latency p99
stays within 2x its p99 alone, measured in the same run. bench/webhook_isolation.py reports
the numbers, and what A sees in the seconds B's tarpit takes to start."""

from __future__ import annotations

from bench.webhook_isolation import (
    TARPIT_HOLD_SECONDS,
    a_latencies,
    new_merchant,
    percentile,
    tarpit_merchant,
)
from tests.e2e.conftest import RunningStack

# Enough of A's payments that one slow one shows, few enough for about 10 s a phase.
PAYMENTS = 20


def test_a_slow_merchants_tarpit_does_not_hold_up_another_merchants_webhooks(
    stack: RunningStack,
) -> None:
    # GIVEN merchant A's webhook latency alone
    a = new_merchant(stack, "shop-a")
    alone = a_latencies(stack, a, PAYMENTS, 2 * TARPIT_HOLD_SECONDS)

    # WHEN merchant B's tarpit holds every POST to its 16 endpoints, and B keeps paying
    with tarpit_merchant(stack) as tarpit:
        tarpit.until_running()
        beside = a_latencies(stack, a, PAYMENTS, 4 * TARPIT_HOLD_SECONDS)
        called = len(tarpit.arrivals.at)

    # THEN every webhook of A arrived, its p99 within twice its p99 alone
    assert max(beside) < float("inf"), beside
    assert percentile(beside, 0.99) <= 2 * percentile(alone, 0.99), (alone, beside)
    assert called > 0  # B's endpoints were called: the tarpit was in the way
