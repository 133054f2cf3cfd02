"""The composition root: clients and services are built here, once per process, and
passed in. Tests build their own `Services` with moto clients and an injected clock.

Each adapter is imported where it is first built, so an entry point pays at cold start only
for what it uses (the authorizer never imports the bank, the worker never the API models).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

import boto3
from botocore.config import Config

from core.domain.clock import Clock, SystemClock
from core.settings import Settings
from core.snapstart import register_snapshot_hooks

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient

    from core.adapters.dynamodb_card_keys import DynamoCardKeyring
    from core.adapters.kms_sealed_answers import KmsSealedAnswers
    from core.adapters.lambda_rollouts import LambdaRollouts
    from core.adapters.simulated_bank import BankControlPanel, SimulatedBank
    from core.adapters.sqs_jobs import SqsJobQueue
    from core.domain.dead_letters import DeadLetters
    from core.domain.idempotency import IdempotencyStore
    from core.domain.merchants import MerchantStore
    from core.domain.payment import Payment
    from core.domain.ports import Bank, CardVault, CursorSealer, Metrics, PaymentStore
    from core.domain.submission import RequestDigests
    from core.domain.webhooks import (
        DeliveryQueue,
        EndpointStore,
        EventStore,
        SecretVault,
        WebhookSender,
    )
    from core.use_cases.card_key_upkeep import CardKeyUpkeep
    from core.use_cases.payment_listing import PaymentListing
    from core.use_cases.payment_operations import PaymentOperations
    from core.use_cases.payment_processor import PaymentProcessor
    from core.use_cases.payment_service import PaymentService
    from core.use_cases.reconciler import Reconciler
    from core.use_cases.webhook_delivery import WebhookDelivery
    from core.use_cases.webhook_endpoints import WebhookEndpoints
    from core.use_cases.webhook_events import EventPublisher

T = TypeVar("T")
# What each key derived from a KMS HMAC key is for (core/adapters/derived_digests.py).
REQUEST_DIGEST_LABEL = "make-payment request"
IDEMPOTENCY_KEY_LABEL = "Idempotency-Key"

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
    def streams(self) -> DynamoDBStreamsClient:
        """The payments stream's reader (the local stack's event source; Lambda's own on
        AWS). Regional endpoint: moto answers no account-based one."""
        options = self._options | {
            "config": _BOTO_CONFIG.merge(Config(account_id_endpoint_mode="disabled"))
        }
        return self._session.client("dynamodbstreams", **options)

    @cached_property
    def sqs(self) -> SQSClient:
        return self._session.client("sqs", **self._options)

    @cached_property
    def kms(self) -> KMSClient:
        return self._session.client("kms", **self._options)

    @cached_property
    def lambda_(self) -> Any:
        """The rollout check's (workers/rollout_check.py): it runs a new version once."""
        return self._session.client("lambda", **self._options)

    @cached_property
    def codedeploy(self) -> Any:
        return self._session.client("codedeploy", **self._options)

    def built(self) -> list[str]:
        """The clients created so far: what building an entry point's components cost."""
        kinds = (
            name for name, kind in vars(AwsClients).items() if isinstance(kind, cached_property)
        )
        return sorted(name for name in kinds if name in vars(self))


def component(build: Callable[[Services], T]) -> cached_property[T]:
    """A part of the composition, built on first use, unless the caller handed one in
    (`overrides`, by name): the seam tests swap adapters through, never by patching."""
    name = build.__name__

    def built(self: Services) -> T:
        if name in self.overrides:
            return cast(T, self.overrides[name])
        return build(self)

    built.__name__ = name
    built.__doc__ = build.__doc__
    return cached_property(built)


class Services:
    """Every adapter and use case of paygate, wired once and built on first use. Any of
    them can be handed in by name through `overrides` (fakes in tests, a real bank
    later)."""

    def __init__(
        self,
        settings: Settings,
        clients: AwsClients,
        clock: Clock,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.clock = clock
        self.overrides = dict(overrides or {})

    @component
    def payments(self) -> PaymentStore:
        from core.adapters.dynamodb_payments import DynamoPaymentStore, IndexLayout
        from core.domain.reconcile_policy import ReconcilePolicy

        return DynamoPaymentStore(
            self.clients.dynamodb,
            self.settings.payments_table,
            ReconcilePolicy.of(self.settings),
            IndexLayout(
                in_flight_shards=self.settings.in_flight_shards,
                merchant_buckets=self.settings.merchant_buckets,
            ),
        )

    @component
    def merchants(self) -> MerchantStore:
        from core.adapters.dynamodb_merchants import DynamoMerchantStore

        return DynamoMerchantStore(self.clients.dynamodb, self.settings.merchants_table)

    @component
    def vault(self) -> CardVault:
        from core.adapters.hpke_card_vault import HpkeCardVault
        from core.adapters.kms_card_vault import KmsCardVault

        kms = KmsCardVault(self.clients.kms, self.settings.card_key_id)
        return HpkeCardVault(
            self.card_keyring, self.clock, kms, self.metrics, seals=self.settings.card_format == 2
        )

    @component
    def card_keyring(self) -> DynamoCardKeyring:
        from core.adapters.dynamodb_card_keys import DynamoCardKeyring

        return DynamoCardKeyring(
            self.clients.dynamodb,
            self.settings.card_keys_table,
            self.clients.kms,
            self.settings.card_key_id,
        )

    @component
    def card_key_upkeep(self) -> CardKeyUpkeep:
        from core.use_cases.card_key_upkeep import CardKeyUpkeep

        return CardKeyUpkeep(self.card_keyring, self.clock)

    @component
    def request_digests(self) -> RequestDigests:
        from core.adapters.derived_digests import DerivedKeyMac
        from core.adapters.kms_mac import KmsMac
        from core.domain.submission import RequestDigests

        key = KmsMac(self.clients.kms, self.settings.card_digest_key_id)
        return RequestDigests(
            DerivedKeyMac(key, REQUEST_DIGEST_LABEL),
            earlier=key,
            writes_bare=self.settings.card_format == 1,
        )

    @component
    def cursors(self) -> CursorSealer:
        from core.adapters.kms_mac import KmsMac
        from core.adapters.list_cursors import SignedCursors

        return SignedCursors(KmsMac(self.clients.kms, self.settings.cursor_key_id))

    @component
    def jobs(self) -> SqsJobQueue:
        from core.adapters.sqs_jobs import SqsJobQueue

        return SqsJobQueue(self.clients.sqs, self.settings.jobs_queue_url)

    @component
    def idempotency(self) -> IdempotencyStore:
        from core.adapters.derived_digests import DerivedKeyDigests
        from core.adapters.dynamodb_idempotency import DynamoIdempotencyStore
        from core.adapters.kms_mac import KmsMac

        digests = DerivedKeyDigests(
            KmsMac(self.clients.kms, self.settings.idempotency_digest_key_id), IDEMPOTENCY_KEY_LABEL
        )
        return DynamoIdempotencyStore(
            self.clients.dynamodb, self.settings.idempotency_table, self.clock, digests
        )

    def dead_letter_queue(self, dlq_url: str) -> DeadLetters:
        """The payment jobs' dead letters in the queue at `dlq_url` (the ops tools'; no
        Lambda reads it, so it is not in Settings)."""
        if "dead_letters" in self.overrides:
            return cast("DeadLetters", self.overrides["dead_letters"])
        from core.adapters.sqs_dead_letters import SqsDeadLetterQueue

        clock = self.clock
        return SqsDeadLetterQueue(
            self.clients.sqs,
            dlq_url,
            self.settings.jobs_queue_url,
            self.payments,
            now_ms=lambda: int(clock.now() * 1000),
        )

    @component
    def bank_controls(self) -> BankControlPanel:
        from core.adapters.simulated_bank import BankControlPanel

        return BankControlPanel(self.clients.dynamodb, self.settings.bank_control_table)

    @component
    def simulated_bank(self) -> SimulatedBank:
        from core.adapters.simulated_bank import SimulatedBank

        return SimulatedBank(
            self.clients.dynamodb,
            self.settings.bank_ledger_table,
            self.bank_controls,
            timeout_seconds=self.settings.bank_timeout_seconds,
        )

    @component
    def bank(self) -> Bank:
        """The bank the worker asks: the simulated one until an acquirer is plugged in."""
        return self.simulated_bank

    @component
    def metrics(self) -> Metrics:
        from core.observability import recorder

        return recorder

    @component
    def processor(self) -> PaymentProcessor:
        from core.adapters.aws_errors import describe
        from core.use_cases.payment_processor import PaymentProcessor

        return PaymentProcessor(
            payments=self.payments,
            vault=self.vault,
            bank=self.bank,
            jobs=self.jobs,
            clock=self.clock,
            settings=self.settings,
            metrics=self.metrics,
            describe=describe,
        )

    @component
    def reconciler(self) -> Reconciler:
        from core.use_cases.reconciler import Reconciler

        return Reconciler(
            payments=self.payments,
            jobs=self.jobs,
            processor=self.processor,
            clock=self.clock,
            settings=self.settings,
            metrics=self.metrics,
        )

    @component
    def payment_service(self) -> PaymentService:
        from core.use_cases.payment_service import PaymentService

        return PaymentService(
            payments=self.payments,
            vault=self.vault,
            jobs=self.jobs,
            clock=self.clock,
            payment_ttl_seconds=self.settings.payment_ttl_seconds,
            recheck_base_seconds=self.settings.recheck_base_seconds,
            recheck_cap_seconds=self.settings.recheck_cap_seconds,
        )

    @component
    def payment_operations(self) -> PaymentOperations:
        from core.use_cases.payment_operations import PaymentOperations

        return PaymentOperations(
            payments=self.payments, jobs=self.jobs, clock=self.clock, metrics=self.metrics
        )

    @component
    def payment_listing(self) -> PaymentListing:
        from core.use_cases.payment_listing import PaymentListing

        return PaymentListing(
            payments=self.payments,
            cursors=self.cursors,
            clock=self.clock,
            payment_ttl_seconds=self.settings.payment_ttl_seconds,
        )

    @component
    def events(self) -> EventStore:
        from core.adapters.dynamodb_events import DynamoEventStore

        return DynamoEventStore(self.clients.dynamodb, self.settings.events_table)

    @component
    def webhook_endpoints(self) -> EndpointStore:
        from core.adapters.dynamodb_webhook_endpoints import DynamoEndpointStore

        return DynamoEndpointStore(self.clients.dynamodb, self.settings.webhook_endpoints_table)

    @component
    def webhook_secrets(self) -> SecretVault:
        from core.adapters.dynamodb_webhook_endpoints import KmsSecretVault

        return KmsSecretVault(self.clients.kms, self.settings.webhook_secret_key_id)

    @component
    def sealed_answers(self) -> KmsSealedAnswers:
        from core.adapters.kms_sealed_answers import KmsSealedAnswers

        return KmsSealedAnswers(self.clients.kms, self.settings.webhook_secret_key_id)

    @component
    def deliveries(self) -> DeliveryQueue:
        from core.adapters.sqs_deliveries import SqsDeliveryQueue

        return SqsDeliveryQueue(
            self.clients.sqs,
            self.settings.deliveries_queue_url,
            self.settings.deliveries_dlq_url,
            self.settings.slow_deliveries_queue_url,
        )

    @component
    def webhook_sender(self) -> WebhookSender:
        from core.adapters.http_webhook_sender import HttpWebhookSender

        return HttpWebhookSender(allow_loopback=bool(self.settings.webhooks_allow_loopback))

    @component
    def payment_of_stream_image(self) -> Callable[[dict[str, Any]], Payment]:
        """How a payment reads in the payments table's stream (the event publisher's)."""
        from core.adapters.dynamodb_payments import payment_from_stream_image

        return payment_from_stream_image

    @component
    def rollouts(self) -> LambdaRollouts:
        from core.adapters.lambda_rollouts import LambdaRollouts

        return LambdaRollouts(self.clients.lambda_, self.clients.codedeploy)

    @component
    def event_publisher(self) -> EventPublisher:
        from core.use_cases.webhook_events import EventPublisher

        return EventPublisher(
            events=self.events,
            endpoints=self.webhook_endpoints,
            deliveries=self.deliveries,
            clock=self.clock,
            metrics=self.metrics,
            endpoint_list_seconds=self.settings.endpoint_list_seconds,
        )

    @component
    def webhook_delivery(self) -> WebhookDelivery:
        from core.use_cases.webhook_delivery import WebhookDelivery

        return WebhookDelivery(
            events=self.events,
            endpoints=self.webhook_endpoints,
            vault=self.webhook_secrets,
            sender=self.webhook_sender,
            deliveries=self.deliveries,
            clock=self.clock,
            metrics=self.metrics,
            endpoint_read_seconds=self.settings.endpoint_read_seconds,
        )

    @component
    def webhook_endpoint_service(self) -> WebhookEndpoints:
        from core.use_cases.webhook_endpoints import WebhookEndpoints

        return WebhookEndpoints(
            endpoints=self.webhook_endpoints,
            events=self.events,
            payments=self.payments,
            vault=self.webhook_secrets,
            clock=self.clock,
            check_url=self.webhook_sender.check,
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
    handle: Callable[[EventT, ContextT, Services], ResultT], *, primes: str
) -> Callable[[EventT, ContextT], ResultT]:
    """What Lambda calls: `handle` with this process's services. `primes`: the component
    its first call builds, built before a SnapStart snapshot instead (core/snapstart.py)."""
    register_snapshot_hooks(lambda: getattr(services(), primes))

    def lambda_handler(event: EventT, context: ContextT) -> ResultT:
        return handle(event, context, services())

    return lambda_handler
