"""The in-flight index is sharded: writes spread evenly over the shards, and the reconciler
still finds every stalled payment, page by page across every shard, in due order."""

from __future__ import annotations

from core.adapters.dynamodb_payments import DynamoPaymentStore, IndexLayout
from core.domain.reconcile_policy import ReconcilePolicy
from tests.conftest import ApiClient, AwsEnv
from tests.integration.worker_support import stalled
from tests.support import FakeClock


def test_in_flight_items_carry_their_shard_and_the_reconciler_pages_through_all(
    api: ApiClient, aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN 30 payments whose jobs were lost, spread over the default shards
    payment_ids = stalled(api, aws, clock, count=30)
    shards = api.services.settings.in_flight_shards
    items = [aws.raw_item(payment_id) for payment_id in payment_ids]
    assert {item["inFlight"]["S"] for item in items} <= {str(s) for s in range(shards)}
    assert len({item["inFlight"]["S"] for item in items}) > 1

    # WHEN the reconciler's query reads them 4 at a time
    store = DynamoPaymentStore(
        aws.dynamodb,
        aws.settings.payments_table,
        ReconcilePolicy.of(aws.settings),
        IndexLayout(in_flight_shards=shards),
    )
    pages = list(store.stalled_pages(int(clock.now()), page_items=4))

    # THEN every one is listed once, in due order, in full pages but the last
    listed = [entry for page in pages for entry in page]
    assert sorted(e.payment_id for e in listed) == sorted(payment_ids)
    assert [e.reconcile_at for e in listed] == sorted(e.reconcile_at for e in listed)
    assert [len(page) for page in pages[:-1]] == [4] * (len(pages) - 1)
