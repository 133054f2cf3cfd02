"""One merchant cannot slow another's webhooks (issue #25): on the local stack, merchant B's
16 endpoints hold every POST for 12 s while B keeps paying; merchant A's webhook latency p99
stays within 2x its p99 alone, measured in the same run. bench/webhook_isolation.py reports
the numbers, and what A sees in the seconds B's tarpit takes to start. And the local stack
keeps up with its webhooks (issue #28): beside B's tarpit, a burst of A's payments is final
and every one's event reaches A."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bench.webhook_isolation import (
    TARPIT_HOLD_SECONDS,
    Arrivals,
    a_latencies,
    http_receiver,
    new_merchant,
    pay,
    percentile,
    register,
    remove,
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


# Issue #28: the local stack keeps up with its own webhooks. A burst from a few clients at
# once, more than one batch of the fast lane's instances.
BURST = 40


def test_a_burst_of_payments_is_final_and_all_its_webhooks_arrive_beside_a_held_slow_lane(
    stack: RunningStack,
) -> None:
    # GIVEN merchant A's endpoint, and merchant B's tarpit holding the slow lane's instances
    a = new_merchant(stack, "burst-shop")
    arrivals = Arrivals()
    with http_receiver(arrivals.record) as url, tarpit_merchant(stack) as tarpit:
        endpoint = register(stack, a.merchant_id, f"{url}/a", a.api_key)
        try:
            tarpit.until_running()

            # WHEN A makes a burst of payments from several clients at once
            with ThreadPoolExecutor(max_workers=8) as clients:
                paid = list(
                    clients.map(lambda _: pay(stack, a.merchant_id, a.api_key), range(BURST))
                )
            payment_ids = [payment_id for payment_id, _ in paid]

            # THEN every one is accepted and its event reaches A's receiver, B's still held
            for payment_id in payment_ids:
                assert arrivals.wait_for(payment_id, 4 * TARPIT_HOLD_SECONDS) is not None, (
                    payment_id
                )
            statuses = {
                stack.request(
                    "GET",
                    f"/get-payment?merchantId={a.merchant_id}&paymentId={payment_id}",
                    None,
                    a.api_key,
                ).body["status"]
                for payment_id in payment_ids
            }
            held = len(tarpit.arrivals.at)
        finally:
            remove(stack, a.merchant_id, endpoint, a.api_key)

    assert statuses == {"Accepted"}
    assert set(payment_ids) <= set(arrivals.at)
    assert held > 0  # B's endpoints were being called: its deliveries held the slow lane
