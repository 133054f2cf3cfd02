"""Each port's contract, run against its in-memory fake (unit tier) and its AWS adapter on
moto (integration tier): the fakes the use-case tests rely on behave as the adapters do."""

from __future__ import annotations

from typing import Any

import pytest

from core.adapters.dynamodb_card_keys import DynamoCardKeyring
from core.adapters.dynamodb_payments import DynamoPaymentStore, IndexLayout
from core.adapters.hpke_card_vault import HpkeCardVault
from core.adapters.kms_card_vault import KmsCardVault
from core.adapters.kms_mac import KmsMac
from core.adapters.simulated_bank import BankControlPanel, SimulatedBank
from core.adapters.sqs_jobs import SqsJobQueue
from core.bootstrap import Services
from core.domain.clock import SystemClock
from core.domain.jobs import PaymentJob
from core.domain.reconcile_policy import ReconcilePolicy
from tests.fakes import (
    CountingMetrics,
    FakeBank,
    InMemoryCardKeyring,
    InMemoryCardVault,
    InMemoryJobQueue,
    InMemoryMac,
    InMemoryPaymentStore,
)

POLICY = ReconcilePolicy(
    reconcile_after_seconds=1200,
    resolve_after_seconds=86400,
    every_seconds=300,
    drain_jobs_per_second=100.0,
)
# More than one of each, so every in-flight listing merges shards and every merchant
# listing merges buckets.
LAYOUT = IndexLayout(in_flight_shards=4, merchant_buckets=4)
IMPLEMENTATIONS = [
    pytest.param("memory", marks=pytest.mark.unit),
    pytest.param("aws", marks=pytest.mark.integration),
]


@pytest.fixture(params=IMPLEMENTATIONS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _aws(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("aws")


def _one_of(kind: str, request: pytest.FixtureRequest, memory: Any, on_aws: Any) -> Any:
    """The fake (built by `memory()`), or the adapter on moto (built by `on_aws(aws)`)."""
    return memory() if kind == "memory" else on_aws(_aws(request))


@pytest.fixture
def store(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(
        kind,
        request,
        lambda: InMemoryPaymentStore(POLICY),
        lambda aws: DynamoPaymentStore(aws.dynamodb, aws.settings.payments_table, POLICY, LAYOUT),
    )


def _card_vault(aws: Any) -> HpkeCardVault:
    """The vault as deployed: key pairs made by the worker's upkeep."""
    services = Services(aws.settings, aws.clients(), SystemClock())
    services.card_key_upkeep.run()
    kms = KmsCardVault(aws.kms, aws.settings.card_key_id)
    return HpkeCardVault(services.card_keyring, SystemClock(), kms, CountingMetrics())


@pytest.fixture
def vault(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(kind, request, InMemoryCardVault, _card_vault)


@pytest.fixture
def keyring(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(
        kind,
        request,
        InMemoryCardKeyring,
        lambda aws: DynamoCardKeyring(
            aws.dynamodb, aws.settings.card_keys_table, aws.kms, aws.settings.card_key_id
        ),
    )


@pytest.fixture
def mac(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(
        kind, request, InMemoryMac, lambda aws: KmsMac(aws.kms, aws.settings.card_digest_key_id)
    )


def _simulated_bank(aws: Any) -> SimulatedBank:
    controls = BankControlPanel(aws.dynamodb, aws.settings.bank_control_table)
    return SimulatedBank(aws.dynamodb, aws.settings.bank_ledger_table, controls, timeout_seconds=1)


@pytest.fixture
def bank(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(kind, request, FakeBank, _simulated_bank)


class QueueUnderTest:
    """A JobPublisher and a way to see what it published."""

    def __init__(self, kind: str, request: pytest.FixtureRequest) -> None:
        if kind == "memory":
            self.memory = InMemoryJobQueue()
            self.publisher: Any = self.memory
            return
        self.aws = _aws(request)
        self.publisher = SqsJobQueue(self.aws.sqs, self.aws.settings.jobs_queue_url)

    def received(self) -> list[tuple[PaymentJob, int]]:
        if hasattr(self, "memory"):
            return self.memory.take()
        messages = self.aws.sqs.receive_message(
            QueueUrl=self.aws.settings.jobs_queue_url, MaxNumberOfMessages=10
        ).get("Messages", [])
        return [(PaymentJob.from_body(m["Body"]), 0) for m in messages]


@pytest.fixture
def queue(kind: str, request: pytest.FixtureRequest) -> QueueUnderTest:
    return QueueUnderTest(kind, request)
