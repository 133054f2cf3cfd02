from __future__ import annotations

import threading
from typing import Any

import pytest

from core.bootstrap import Services
from core.domain.jobs import PaymentJob
from core.domain.payment import BankOutcome
from core.domain.polling import recheck_delay_seconds
from core.domain.ports import AuthorizationRequest, Bank
from core.use_cases.payment_processor import JobResult
from tests.conftest import ApiClient, AwsEnv
from tests.integration.worker_support import emitted_metrics, event_source, submit
from tests.support import FakeClock, lambda_context
from workers import reconciler


class _MeetAfterTheBank:
    """Holds each caller after the bank answered until both have, so both workers have
    read the same version before either writes."""

    def __init__(self, bank: Bank, parties: int) -> None:
        self._bank = bank
        self._barrier = threading.Barrier(parties, timeout=10)

    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        outcome = self._bank.authorize(request, idempotency_key=idempotency_key)
        self._barrier.wait()
        return outcome


def test_two_workers_racing_on_one_payment_one_wins_the_other_acknowledges(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a payment and two workers (two Lambda instances: their own processors)
    payment_id = submit(api, 1250)
    meeting = _MeetAfterTheBank(services.bank, parties=2)
    workers = []
    for _ in range(2):
        worker = Services(aws.settings, aws.clients(), clock, {"bank": meeting})
        workers.append(worker.processor)

    # WHEN both process its job at once
    results: list[Any] = [None, None]

    def run(n: int) -> None:
        results[n] = workers[n].process(PaymentJob(payment_id, f"w{n}"), deadline=1e12)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN one write won, the other re-read and acknowledged
    assert sorted(result.result for result in results) == [JobResult.LOST_RACE, JobResult.RECORDED]
    item = aws.raw_item(payment_id)
    assert (item["status"], item["version"]) == ({"S": "Accepted"}, {"N": "3"})
    ledger = services.simulated_bank.ledger_entry(payment_id)
    assert ledger is not None and (ledger.calls, ledger.authorizations) == (2, 1)


def test_a_pending_payment_whose_recheck_was_lost_is_requeued(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a Pending payment whose re-check message never arrives
    payment_id = submit(api, 24)
    worker = event_source(aws, services)
    worker.poll_once()
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    assert aws.raw_item(payment_id)["status"] == {"S": "Pending"}

    # WHEN the reconciler runs after the threshold
    clock.advance(aws.settings.reconcile_after_seconds + 1)
    report = reconciler.handle({}, lambda_context(), services)
    worker.drain()

    # THEN
    assert report["requeued"] == 1
    assert aws.raw_item(payment_id)["status"] == {"S": "Accepted"}


def test_the_reconciler_gives_up_after_its_attempts_and_reads_no_table_scan(
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a payment whose jobs always fail (the bank never answers)
    payment_id = submit(api, 504)
    aws.sqs.purge_queue(QueueUrl=aws.settings.jobs_queue_url)
    operations: list[str] = []
    services.clients.dynamodb.meta.events.register(
        "before-call.dynamodb.*",
        lambda model, **_: operations.append(model.name),
    )

    # WHEN the reconciler runs again and again, each time after the threshold
    reports, requeued = [], []
    for _ in range(aws.settings.reconcile_max_attempts + 2):
        clock.advance(aws.settings.reconcile_after_seconds + 1)
        reports.append(reconciler.handle({}, lambda_context(), services))
        # Each job fails until SQS moves it to the DLQ: none is left in the queue.
        requeued += [body["paymentId"] for body in aws.queued_bodies()]
        aws.discard_jobs()

    # THEN it re-queued it up to its limit, then reported it stuck (it is in the DLQ by then)
    # each time it saw it, for the PaymentsStuck alarm
    attempts = aws.settings.reconcile_max_attempts
    assert [r["requeued"] for r in reports] == [1] * attempts + [0, 0]
    assert [r["stuck"] for r in reports] == [0] * attempts + [1, 1]
    assert emitted_metrics(capsys.readouterr().out)["PaymentsStuck"] == 2
    assert requeued == [payment_id] * attempts
    assert "Scan" not in operations
    assert "Query" in operations
    assert aws.raw_item(payment_id)["status"] == {"S": "Processing"}


@pytest.mark.parametrize(
    ("checks", "delay"), [(1, 5), (2, 10), (3, 20), (8, 640), (9, 900), (30, 900)]
)
def test_pending_rechecks_back_off_up_to_the_cap(checks: int, delay: int) -> None:
    assert recheck_delay_seconds(checks, base=5, cap=900) == delay
