"""The composition root: clients and services are built here, once per process, and
passed in. Tests build their own `Services` with moto clients and an injected clock.

Each adapter is imported where it is first built, so an entry point pays at cold start only
for what it uses (the authorizer never imports the bank, the worker never the API models).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config

from core.domain.clock import Clock, SystemClock
from core.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient

    from core.adapters.dynamodb_idempotency import IdempotencyStore
    from core.adapters.dynamodb_merchants import MerchantStore
    from core.adapters.dynamodb_payments import PaymentsRepository
    from core.adapters.kms_card_vault import CardVault
    from core.adapters.list_cursors import CursorCodec
    from core.adapters.simulated_bank import BankControlPanel, SimulatedBank
    from core.adapters.sqs_jobs import JobQueue
    from core.domain.submission import RequestDigests
    from core.use_cases.payment_listing import PaymentListing
    from core.use_cases.payment_processor import PaymentProcessor
    from core.use_cases.payment_service import PaymentService
    from core.use_cases.reconciler import Reconciler

# Fail fast inside a Lambda's time budget; our own retries (tenacity) sit on top.
_BOTO_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=32,
)


class AwsClients:
    """boto3 clients, each created on first use: an entry point pays only for its own."""

    def __init__(self, settings: Settings, session: boto3.session.Session | None = None) -> None:
        self._session = session or boto3.session.Session(region_name=settings.aws_region)
        self._options: dict[str, Any] = {"config": _BOTO_CONFIG}
        if settings.aws_endpoint_url:
            self._options["endpoint_url"] = settings.aws_endpoint_url

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self._session.client("dynamodb", **self._options)

    @cached_property
    def sqs(self) -> SQSClient:
        return self._session.client("sqs", **self._options)

    @cached_property
    def kms(self) -> KMSClient:
        return self._session.client("kms", **self._options)


class Services:
    """Every adapter and use case of paygate, wired once and built on first use."""

    def __init__(self, settings: Settings, clients: AwsClients, clock: Clock) -> None:
        self.settings = settings
        self.clients = clients
        self.clock = clock

    @cached_property
    def payments(self) -> PaymentsRepository:
        from core.adapters.dynamodb_payments import PaymentsRepository
        from core.domain.reconcile_policy import ReconcilePolicy

        return PaymentsRepository(
            self.clients.dynamodb, self.settings.payments_table, ReconcilePolicy.of(self.settings)
        )

    @cached_property
    def merchants(self) -> MerchantStore:
        from core.adapters.dynamodb_merchants import MerchantStore

        return MerchantStore(self.clients.dynamodb, self.settings.merchants_table)

    @cached_property
    def vault(self) -> CardVault:
        from core.adapters.kms_card_vault import CardVault

        return CardVault(self.clients.kms, self.settings.card_key_id)

    @cached_property
    def request_digests(self) -> RequestDigests:
        from core.adapters.kms_mac import KmsMac
        from core.domain.submission import RequestDigests

        return RequestDigests(KmsMac(self.clients.kms, self.settings.card_digest_key_id))

    @cached_property
    def cursors(self) -> CursorCodec:
        from core.adapters.kms_mac import KmsMac
        from core.adapters.list_cursors import CursorCodec

        return CursorCodec(KmsMac(self.clients.kms, self.settings.cursor_key_id))

    @cached_property
    def jobs(self) -> JobQueue:
        from core.adapters.sqs_jobs import JobQueue

        return JobQueue(self.clients.sqs, self.settings.jobs_queue_url)

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        from core.adapters.dynamodb_idempotency import IdempotencyStore

        return IdempotencyStore(self.clients.dynamodb, self.settings.idempotency_table, self.clock)

    @cached_property
    def bank_controls(self) -> BankControlPanel:
        from core.adapters.simulated_bank import BankControlPanel

        return BankControlPanel(self.clients.dynamodb, self.settings.bank_control_table)

    @cached_property
    def bank(self) -> SimulatedBank:
        from core.adapters.simulated_bank import SimulatedBank

        return SimulatedBank(
            self.clients.dynamodb,
            self.settings.bank_ledger_table,
            self.bank_controls,
            timeout_seconds=self.settings.bank_timeout_seconds,
        )

    @cached_property
    def processor(self) -> PaymentProcessor:
        from core.observability import recorder
        from core.use_cases.payment_processor import PaymentProcessor

        return PaymentProcessor(
            payments=self.payments,
            vault=self.vault,
            bank=self.bank,
            jobs=self.jobs,
            clock=self.clock,
            settings=self.settings,
            metrics=recorder,
        )

    @cached_property
    def reconciler(self) -> Reconciler:
        from core.observability import recorder
        from core.use_cases.reconciler import Reconciler

        return Reconciler(
            payments=self.payments,
            jobs=self.jobs,
            processor=self.processor,
            clock=self.clock,
            settings=self.settings,
            metrics=recorder,
        )

    @cached_property
    def payment_service(self) -> PaymentService:
        from core.use_cases.payment_service import PaymentService

        return PaymentService(
            payments=self.payments,
            vault=self.vault,
            jobs=self.jobs,
            clock=self.clock,
            payment_ttl_seconds=self.settings.payment_ttl_seconds,
        )

    @cached_property
    def payment_listing(self) -> PaymentListing:
        from core.use_cases.payment_listing import PaymentListing

        return PaymentListing(
            payments=self.payments,
            cursors=self.cursors,
            clock=self.clock,
            payment_ttl_seconds=self.settings.payment_ttl_seconds,
        )


@cache
def services() -> Services:
    """This process's services, built on first use (not at import) from the environment."""
    settings = Settings.from_env(os.environ)
    return Services(settings, AwsClients(settings), SystemClock())


EventT = TypeVar("EventT")
ContextT = TypeVar("ContextT")
ResultT = TypeVar("ResultT")


def with_process_services(
    handle: Callable[[EventT, ContextT, Services], ResultT],
) -> Callable[[EventT, ContextT], ResultT]:
    """What Lambda calls: `handle` with this process's services."""

    def lambda_handler(event: EventT, context: ContextT) -> ResultT:
        return handle(event, context, services())

    return lambda_handler
