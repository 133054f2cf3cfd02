"""Recovery at scale: how long the reconciler takes to queue again a backlog of stalled
payments (after an SQS outage at peak, jobs lost), against a goal of 15 minutes for 100,000.

Measured: a smaller backlog in moto in-process (stalled payments written straight to the
table, the clock moved past the threshold), the reconciler's runs until nothing is left,
every AWS request counted. Then the arithmetic for 100,000 on AWS, from the requests a page
makes, the reconciler's concurrency and typical in-Region request latencies (stated below:
assumptions, not measurements), in runs of RECONCILE_RUN_SECONDS every period.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from typing import Any

from moto import mock_aws

from bench.capacity_model import cpu_slowdown
from bench.moto_env import MotoCpu, count_requests, provisioned_settings, quiet
from core.adapters.dynamodb_payments import SHARD_READERS
from core.bootstrap import AwsClients, Services
from core.domain.payment import Payment, PaymentDetails, PaymentStatus
from core.settings import Settings
from core.use_cases.reconciler import STOP_BEFORE_SECONDS
from infra.functions import RECONCILE_RUN_SECONDS, RECONCILER

GOAL_SECONDS = 15 * 60
BACKLOG = 100_000
PAGE = 100
# Typical in-Region latencies (milliseconds) of one request: assumptions for the arithmetic.
AWS_LATENCY_MS = {"Query": 10, "GetItem": 5, "UpdateItem": 6, "SendMessageBatch": 20}
DETAILS = PaymentDetails(
    amount=1250,
    currency="EUR",
    expiry_year=2035,
    expiry_month=12,
    card_name="Bench",
    billing_address="1 Bench Road",
    card_last_four="4242",
    request_digest="bench",
)


class _Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def _stall(services: Services, count: int) -> None:
    """`count` payments in Processing whose jobs were never queued (as after an outage)."""
    now = int(services.clock.now())
    for _ in range(count):
        payment_id = str(uuid.uuid4())
        services.payments.add(
            Payment(
                payment_id=payment_id,
                merchant_id="merchant-big",
                status=PaymentStatus.CREATED,
                version=1,
                created_at=now,
                updated_at=now,
                expires_at=now + services.settings.payment_ttl_seconds,
            )
        )
        services.payments.mark_processing(
            payment_id=payment_id,
            merchant_id="merchant-big",
            details=DETAILS,
            card_ciphertext=b"\x01bench",
            correlation_id="bench",
            now=now,
        )


def _page_seconds(
    requests: Counter[str], payments: int, concurrency: int, cpu_per_payment: float
) -> float:
    """One page of PAGE payments on AWS, in a large backlog: one in-flight index query (a
    shard's page holds PAGE entries); its reads and notes `concurrency` at a time; its
    SendMessageBatch requests at once; and the reconciler's CPU for the page at its share
    of a vCPU, not overlapped with the waits (the worst case)."""
    per_page = {name: count * PAGE / payments for name, count in requests.items()}
    milliseconds = (
        AWS_LATENCY_MS["Query"]
        + per_page.get("dynamodb:GetItem", 0) / concurrency * AWS_LATENCY_MS["GetItem"]
        + per_page.get("dynamodb:UpdateItem", 0) / concurrency * AWS_LATENCY_MS["UpdateItem"]
        + (AWS_LATENCY_MS["SendMessageBatch"] if per_page.get("sqs:SendMessageBatch") else 0)
    )
    return milliseconds / 1000 + PAGE * cpu_per_payment * cpu_slowdown(RECONCILER.memory_mb)


def _first_reads_seconds(settings: Settings) -> float:
    """Every shard's first page, SHARD_READERS at a time, once a run."""
    rounds = math.ceil(settings.in_flight_shards / SHARD_READERS)
    return rounds * AWS_LATENCY_MS["Query"] / 1000


def measure(stalled: int = 1000) -> dict[str, Any]:
    with mock_aws(), quiet():
        settings: Settings = provisioned_settings()
        clock = _Clock()
        services = Services(settings, AwsClients(settings), clock)
        _stall(services, stalled)
        clock.offset = settings.reconcile_after_seconds + 1
        requests: Counter[str] = Counter()
        clients = services.clients
        count_requests(requests, clients.dynamodb, clients.sqs)
        moto = MotoCpu(clients.dynamodb, clients.sqs)
        started = time.perf_counter()
        with moto.measure() as cpu:
            report = services.reconciler.run(seconds_left=lambda: 600.0)
        seconds = time.perf_counter() - started
        queued = services.clients.sqs.get_queue_attributes(
            QueueUrl=settings.jobs_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    if report.requeued != stalled or int(queued) != stalled:
        raise RuntimeError(f"the reconciler queued {report.requeued} of {stalled} ({queued})")
    cpu_per_payment = cpu.seconds / stalled
    page = _page_seconds(requests, stalled, settings.reconcile_concurrency, cpu_per_payment)
    usable = RECONCILE_RUN_SECONDS - STOP_BEFORE_SECONDS - _first_reads_seconds(settings)
    per_run = int(usable / page * PAGE)
    runs = math.ceil(BACKLOG / per_run)
    working = BACKLOG / PAGE * page + runs * _first_reads_seconds(settings)
    # The backlog becomes due just after a run started (the worst case): it waits one period.
    worst = (
        settings.reconcile_every_seconds
        + (runs - 1) * settings.reconcile_every_seconds
        + (working - (runs - 1) * (RECONCILE_RUN_SECONDS - 5))
    )
    return {
        "measured": {
            "stalled": stalled,
            "seconds_in_moto": round(seconds, 1),
            "payments_per_second_in_moto": int(stalled / seconds),
            # The reconciler's own CPU (moto's taken out), on one core of this machine.
            "cpu_ms_per_payment": round(1000 * cpu_per_payment, 3),
            "requests_per_payment": {
                name: round(count / stalled, 3) for name, count in sorted(requests.items())
            },
        },
        "aws_latency_ms_assumed": AWS_LATENCY_MS,
        "reconcile_concurrency": settings.reconcile_concurrency,
        "memory_mb": RECONCILER.memory_mb,
        "vcpu_share": round(1 / cpu_slowdown(RECONCILER.memory_mb), 3),
        "page_seconds_on_aws": round(page, 3),
        "payments_per_run": per_run,
        "backlog": BACKLOG,
        "runs": runs,
        "working_seconds": round(working),
        "worst_case_seconds": round(worst),
        "goal_seconds": GOAL_SECONDS,
        "moto_rate_seconds": round(BACKLOG / (stalled / seconds)),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
