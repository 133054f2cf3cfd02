"""One merchant cannot slow another's webhooks (issue #25): on the local stack, merchant B's
16 endpoints hold every POST for 12 s while B keeps paying; merchant A's webhooks still
arrive about as fast as when A was alone. bench/webhook_isolation.py reports the p99 ratio."""

from __future__ import annotations

from bench.webhook_isolation import TARPIT_HOLD_SECONDS, a_latencies, percentile, tarpit_merchant
from core.domain.webhook_retry import FAST_LANE_SECONDS
from tests.e2e.conftest import RunningStack

PAYMENTS = 8


def test_a_slow_merchants_tarpit_does_not_hold_up_another_merchants_webhooks(
    stack: RunningStack,
) -> None:
    # GIVEN merchant A's webhook latency alone
    alone = a_latencies(stack, PAYMENTS, 2 * TARPIT_HOLD_SECONDS)

    # WHEN merchant B's tarpit holds every POST to its 16 endpoints, and B keeps paying
    with tarpit_merchant(stack) as tarpit:
        beside = a_latencies(stack, PAYMENTS, 4 * TARPIT_HOLD_SECONDS)
        called = len(tarpit.at)

    # THEN every webhook of A arrived; the typical one about as fast as alone (at most one
    # fast-lane wait, while B's endpoints are first found slow), and none waited out B's
    # tarpit twice over (before the lanes: 133 s)
    assert max(beside) < 2 * TARPIT_HOLD_SECONDS, beside
    assert percentile(beside, 0.5) < 2 * percentile(alone, 0.99) + FAST_LANE_SECONDS, (
        alone,
        beside,
    )
    assert called > 0  # B's endpoints were called: the tarpit was in the way
