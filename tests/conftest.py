from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }
)

from cli.provisioning import create_queues, provision
from core.adapters.sqs_jobs import queue_depth
from core.bootstrap import AwsClients, Services
from core.observability import logger as paygate_logger
from core.settings import Settings
from handlers.routes import CREATE_PAYMENT, route_of
from tests.support import (
    SENTINEL_CVV,
    SENTINEL_PAN,
    ApiResponse,
    FakeClock,
    api_event,
    card_data_leaks,
    lambda_context,
    one_request_at_a_time,
    to_api_response,
)

REGION = "us-east-1"
# Bank time-outs and back-offs in milliseconds, so the retry paths run in a blink; a
# Pending re-check is due at once, so the worker picks it up from the real queue.
FAST_BANK = {
    "bank_timeout_seconds": 0.02,
    "bank_retry_initial_seconds": 0.005,
    "bank_retry_max_seconds": 0.02,
    "recheck_base_seconds": 0,
}
MERCHANT_A = "merchant-a"
MERCHANT_B = "merchant-b"


class _LineCollector(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._last: logging.LogRecord | None = None
        if formatter:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        # Attached to the paygate logger and the root: a line that propagates reaches both
        # one after the other, and counts once.
        if record is self._last:
            return
        self._last = record
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_card_data_in_output(capsys: pytest.CaptureFixture[str]) -> Iterator[_LineCollector]:
    """Every log line and everything printed by every test is searched for the sentinel
    PAN and CVV ("Card data", docs/guarantees.md)."""
    collector = _LineCollector(paygate_logger.registered_formatter)
    targets = [logging.getLogger("paygate"), logging.getLogger()]
    for target in targets:
        target.addHandler(collector)
    yield collector
    for target in targets:
        target.removeHandler(collector)
    out, err = capsys.readouterr()
    leaks = card_data_leaks(collector.lines, out, err)
    assert not leaks, f"card data in logs or output: {leaks[:3]}"
    # Let pytest still show what the test printed when it fails.
    print(out, end="")


@dataclass
class AwsEnv:
    settings: Settings
    dlq_url: str
    dynamodb: Any
    sqs: Any
    kms: Any
    session: boto3.session.Session

    def clients(self, settings: Settings | None = None) -> AwsClients:
        """Clients of their own (a Lambda instance's), on this environment's session."""
        return AwsClients(settings or self.settings, self.session)

    def payment_items(self) -> list[dict[str, Any]]:
        return list(self.dynamodb.scan(TableName=self.settings.payments_table)["Items"])

    def raw_item(self, payment_id: str) -> dict[str, Any]:
        return dict(
            self.dynamodb.get_item(
                TableName=self.settings.payments_table, Key={"paymentId": {"S": payment_id}}
            )["Item"]
        )

    def queued_bodies(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        """Peek at everything visible on a queue: receive it all, then make it visible again
        (each peek counts as a receive towards the DLQ's maxReceiveCount)."""
        url = queue_url or self.settings.jobs_queue_url
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", []):
            messages.extend(batch)
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return [json.loads(message["Body"]) for message in messages]

    def discard_jobs(self) -> None:
        """Lose every job on the jobs queue (PurgeQueue is allowed once a minute)."""
        url = self.settings.jobs_queue_url
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def queue_depth(self, queue_url: str | None = None) -> int:
        return queue_depth(self.sqs, queue_url or self.settings.jobs_queue_url).total


_TIER_OF_FOLDER = {
    "unit": "unit",
    "integration": "integration",
    "e2e": "e2e",
    "infra": "infra",
    "simulation": "simulation",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's tier is its folder's (a contract suite marks each implementation)."""
    for item in items:
        folder = item.path.parent.name
        if folder in _TIER_OF_FOLDER:
            item.add_marker(_TIER_OF_FOLDER[folder])


@pytest.fixture(scope="session")
def _moto() -> Iterator[AwsEnv]:
    """One in-process moto for the whole run, provisioned once: creating five tables, two
    queues and three keys per test cost more than most tests themselves."""
    with mock_aws():
        session = one_request_at_a_time(boto3.session.Session(region_name=REGION))
        dynamodb = session.client("dynamodb")
        sqs = session.client("sqs")
        kms = session.client("kms")
        provisioned, dlq_url = provision(
            dynamodb=dynamodb, sqs=sqs, kms=kms, prefix="test", region=REGION
        )
        yield AwsEnv(provisioned, dlq_url, dynamodb, sqs, kms, session)


@pytest.fixture
def aws(_moto: AwsEnv) -> AwsEnv:
    """The run's moto with its tables emptied and queues of this test's own (SQS allows a
    purge once a minute, and a message in flight would outlive the test)."""
    empty_tables(_moto)
    jobs_url, dlq_url = create_queues(_moto.sqs, f"t{next(_QUEUE_NUMBERS)}")
    settings = _moto.settings.replace(jobs_queue_url=jobs_url, **FAST_BANK)
    return dataclasses.replace(_moto, settings=settings, dlq_url=dlq_url)


_QUEUE_NUMBERS = itertools.count()


def empty_tables(aws: AwsEnv) -> None:
    for table in aws.dynamodb.list_tables()["TableNames"]:
        key = _key_of(aws.dynamodb, table)
        for page in aws.dynamodb.get_paginator("scan").paginate(
            TableName=table,
            ProjectionExpression=", ".join(f"#{i}" for i in range(len(key))),
            ExpressionAttributeNames={f"#{i}": name for i, name in enumerate(key)},
        ):
            for item in page["Items"]:
                aws.dynamodb.delete_item(TableName=table, Key=item)


_KEYS: dict[str, list[str]] = {}


def _key_of(dynamodb: Any, table: str) -> list[str]:
    if table not in _KEYS:
        schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        _KEYS[table] = [part["AttributeName"] for part in schema]
    return _KEYS[table]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def services(aws: AwsEnv, clock: FakeClock) -> Services:
    """paygate as deployed: its card key pairs made (as the worker makes them ahead)."""
    services = Services(aws.settings, aws.clients(), clock)
    services.card_key_upkeep.run()
    return services


class ApiClient:
    """Calls the real handlers with API Gateway proxy events, as the authorizer-fronted
    API would, for one authenticated merchant."""

    def __init__(self, services: Services, merchant_id: str | None) -> None:
        self.services = services
        self.merchant_id = merchant_id

    def as_merchant(self, merchant_id: str | None) -> ApiClient:
        return ApiClient(self.services, merchant_id)

    def call(self, method: str, path: str, **kwargs: Any) -> ApiResponse:
        # A path no route has still reaches a handler: how each answers one (404).
        route = route_of(method, path) or CREATE_PAYMENT
        handler = route.entry_point()
        event = api_event(method, path, merchant_id=self.merchant_id, **kwargs)
        return to_api_response(handler(event, lambda_context(), self.services))

    def post(self, path: str, payload: Any, **kwargs: Any) -> ApiResponse:
        return self.call("POST", path, body=json.dumps(payload), **kwargs)

    def get(self, path: str, query: dict[str, str]) -> ApiResponse:
        return self.call("GET", path, query=query)

    def create_payment(self) -> str:
        response = self.post("/create-payment", {"merchantId": self.merchant_id})
        assert response.status == 201, response.body
        return str(response.body["paymentId"])

    def get_payment(self, payment_id: str) -> ApiResponse:
        assert self.merchant_id
        return self.get("/get-payment", {"merchantId": self.merchant_id, "paymentId": payment_id})


@pytest.fixture
def api(services: Services) -> ApiClient:
    return ApiClient(services, MERCHANT_A)


def make_payment_body(
    payment_id: str, merchant_id: str = MERCHANT_A, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "paymentId": payment_id,
        "merchantId": merchant_id,
        "cardNumber": SENTINEL_PAN,
        "expiryYear": 2031,
        "expiryMonth": 7,
        "currency": "EUR",
        "amount": 1250,
        "cardName": "Ada Lovelace",
        "billingAddress": "12 Analytical Row, London",
        "cvv": SENTINEL_CVV,
    }
    body.update(overrides)
    return body
