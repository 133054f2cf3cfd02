"""One batch of 10 records with the simulated bank at 200 ms: concurrent vs sequential."""

from __future__ import annotations

import json
import resource
import statistics
import time
import tracemalloc
import uuid
from typing import Any

from moto import mock_aws

from bench.moto_env import REGION, provisioned_settings
from bench.payloads import make_payment_body
from cli.lambda_emulation import lambda_context, sqs_lambda_event
from core.bootstrap import AwsClients, Services
from core.domain.clock import SystemClock
from core.domain.payment import CREATED_VERSION, Payment, PaymentStatus
from handlers.requests import MakePaymentRequest
from workers import payment_worker

BATCH = 10
LATENCY_MS = 200


def _submitted_batch(services: Services, run: int) -> dict[str, Any]:
    messages = []
    for n in range(BATCH):
        payment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{run}-{n}"))
        now = int(time.time())
        services.payments.add(
            Payment(
                payment_id, "bench", PaymentStatus.CREATED, CREATED_VERSION, now, now, now + 600
            )
        )
        request = MakePaymentRequest.model_validate(
            make_payment_body(payment_id, "bench", 1000 + n)
        )
        command = services.request_digests.digested(request.command())
        services.payment_service.submit_payment("bench", command, "bench")
        messages.append(
            {
                "MessageId": payment_id,
                "ReceiptHandle": payment_id,
                "Body": json.dumps({"paymentId": payment_id, "correlationId": "bench"}),
            }
        )
    return sqs_lambda_event(messages, "arn:aws:sqs:us-east-1:000000000000:jobs", REGION)  # type: ignore[arg-type]


def measure_peak_memory() -> dict[str, float]:
    """Peak memory of the worker handling one batch of 10: Python allocations during the
    batch (tracemalloc) and the whole process's peak RSS (moto included)."""
    with mock_aws():
        settings = provisioned_settings()
        services = Services(settings, AwsClients(settings), SystemClock())
        event = _submitted_batch(services, 0)
        tracemalloc.start()
        response = payment_worker.handle(event, lambda_context("bench", 60), services)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert response["batchItemFailures"] == [], response
    return {
        "batch_peak_python_mb": round(peak / 1e6, 2),
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1),
    }


def measure(runs: int = 3) -> dict[str, float]:
    with mock_aws():
        settings = provisioned_settings()
        timings: dict[str, list[float]] = {"concurrent": [], "sequential": []}
        for run in range(runs):
            for mode, workers in (("concurrent", BATCH), ("sequential", 1)):
                tuned = settings.replace(worker_concurrency=workers)
                services = Services(tuned, AwsClients(tuned), SystemClock())
                services.bank_controls.set_latency(LATENCY_MS)
                event = _submitted_batch(services, run * 2 + (mode == "sequential"))
                started = time.perf_counter()
                response = payment_worker.handle(event, lambda_context("bench", 60), services)
                timings[mode].append(time.perf_counter() - started)
                assert response["batchItemFailures"] == [], response
    concurrent = statistics.median(timings["concurrent"])
    sequential = statistics.median(timings["sequential"])
    return {
        "concurrent_seconds": round(concurrent, 3),
        "sequential_seconds": round(sequential, 3),
        "speedup": round(sequential / concurrent, 2),
        "bank_latency_ms": LATENCY_MS,
        "target_speedup": 6,
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
