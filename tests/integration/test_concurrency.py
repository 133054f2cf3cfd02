from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from core.bootstrap import Services
from core.domain.errors import PaygateError
from handlers.http_errors import http_error_of
from handlers.requests import MakePaymentRequest
from tests.conftest import ApiClient, AwsEnv, make_payment_body

THREADS = 20


def test_twenty_simultaneous_makes_transition_once_and_queue_once(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    # GIVEN a payment and twenty clients, half of them with a different amount. Each
    # thread stands for its own Lambda instance, so they meet only in DynamoDB and SQS
    # (one handler module serves one event at a time, as in Lambda).
    payment_id = api.create_payment()
    barrier = threading.Barrier(THREADS)

    def submit(n: int) -> int:
        body = make_payment_body(payment_id, amount=1250 if n % 2 == 0 else 1251)
        request = MakePaymentRequest.model_validate(body)
        command = services.request_digests.digested(request.command())
        barrier.wait()
        try:
            services.payment_service.submit_payment(api.merchant_id or "", command, f"req-{n}")
        except PaygateError as error:
            return http_error_of(error).status
        return 202

    # WHEN they all submit at once
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(submit, range(THREADS)))

    # THEN exactly one transition happened and one job was queued; the winner's half got
    # 202 (the same request repeated) and the other half 409 (a different request)
    assert sorted(set(statuses)) == [202, 409]
    assert statuses.count(202) == THREADS // 2
    item = aws.raw_item(payment_id)
    assert item["version"] == {"N": "2"}
    assert item["status"] == {"S": "Processing"}
    winner_amount = int(item["amount"]["N"])
    assert all(
        (status == 202) == ((1250 if n % 2 == 0 else 1251) == winner_amount)
        for n, status in enumerate(statuses)
    )
    assert len(aws.queued_bodies()) == 1
