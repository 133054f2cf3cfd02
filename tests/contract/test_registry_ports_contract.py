"""The registry ports' contract (idempotency keys, merchants, the payment jobs' dead
letters), run against the in-memory fakes (tests/fakes_registry.py) and the AWS adapters on
moto: a use-case test on a fake sees what production would."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.adapters.derived_digests import DerivedKeyDigests
from core.adapters.dynamodb_idempotency import DynamoIdempotencyStore
from core.adapters.dynamodb_merchants import DynamoMerchantStore
from core.adapters.dynamodb_payments import DynamoPaymentStore
from core.adapters.kms_mac import KmsMac
from core.adapters.sqs_dead_letters import SqsDeadLetterQueue
from core.domain.dead_letters import DeadLetters, LetterFilter, LetterKind
from core.domain.errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidMerchantError,
    MerchantExistsError,
    UnknownKeyError,
    UnknownMerchantError,
)
from core.domain.held_letters import LetterAction
from core.domain.idempotency import IN_PROGRESS_SECONDS, KEEP_SECONDS, Claim, StoredAnswer
from core.domain.jobs import PaymentJob
from core.domain.payment import BankOutcome, Payment, PaymentStatus
from core.resources import MAX_RECEIVE_COUNT
from tests.contract.conftest import LAYOUT, POLICY, _one_of
from tests.contract.test_payment_store_contract import created, submit
from tests.fakes import InMemoryPaymentStore
from tests.fakes_registry import (
    InMemoryDeadLetterQueue,
    InMemoryIdempotencyStore,
    InMemoryMerchantStore,
)
from tests.support import FakeClock

ROUTE = "POST /create-payment"
REQUEST = '{"amount":1250}'
OK = StoredAnswer(201, '{"paymentId":"p-1"}')


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys(kind: str, request: pytest.FixtureRequest, clock: FakeClock) -> Any:
    def on_aws(aws: Any) -> DynamoIdempotencyStore:
        mac = KmsMac(aws.kms, aws.settings.idempotency_digest_key_id)
        digests = DerivedKeyDigests(mac, "Idempotency-Key")
        return DynamoIdempotencyStore(aws.dynamodb, aws.settings.idempotency_table, clock, digests)

    return _one_of(kind, request, lambda: InMemoryIdempotencyStore(clock), on_aws)


@pytest.fixture
def merchants(kind: str, request: pytest.FixtureRequest) -> Any:
    return _one_of(
        kind,
        request,
        InMemoryMerchantStore,
        lambda aws: DynamoMerchantStore(aws.dynamodb, aws.settings.merchants_table),
    )


# Idempotency keys


def test_a_completed_request_is_replayed_to_a_repeat(keys: Any) -> None:
    # GIVEN a request that held its key and completed
    claim = keys.begin("m-1", ROUTE, "key-1", REQUEST)
    assert isinstance(claim, Claim)
    keys.complete("m-1", ROUTE, "key-1", OK)

    # WHEN it is sent again THEN its answer is replayed
    assert keys.begin("m-1", ROUTE, "key-1", REQUEST) == OK


def test_a_key_reused_for_another_request_is_refused(keys: Any) -> None:
    keys.begin("m-1", ROUTE, "key-1", REQUEST)

    with pytest.raises(IdempotencyKeyReusedError):
        keys.begin("m-1", ROUTE, "key-1", '{"amount":1}')


def test_a_key_is_scoped_to_its_merchant_and_route(keys: Any) -> None:
    keys.begin("m-1", ROUTE, "key-1", REQUEST)

    assert isinstance(keys.begin("m-2", ROUTE, "key-1", REQUEST), Claim)
    assert isinstance(keys.begin("m-1", "POST /make-payment", "key-1", REQUEST), Claim)


def test_a_repeat_while_the_first_runs_is_refused_then_takes_over_its_claim(
    keys: Any, clock: FakeClock
) -> None:
    # GIVEN a request holding its key (its Lambda then dies)
    first = keys.begin("m-1", ROUTE, "key-1", REQUEST)

    # WHEN a repeat comes while it may still run THEN it is refused
    with pytest.raises(IdempotencyKeyInUseError):
        keys.begin("m-1", ROUTE, "key-1", REQUEST)

    # WHEN a repeat comes after its lock ran out THEN it goes on under the first's claim
    clock.advance(IN_PROGRESS_SECONDS)
    assert keys.begin("m-1", ROUTE, "key-1", REQUEST) == first


def test_a_failed_request_is_taken_over_at_once_and_a_refused_one_frees_its_key(
    keys: Any,
) -> None:
    # GIVEN a request that failed (5xx) after part of its work
    first = keys.begin("m-1", ROUTE, "key-1", REQUEST)
    keys.unlock("m-1", ROUTE, "key-1")
    # THEN a retry takes its claim over at once
    assert keys.begin("m-1", ROUTE, "key-1", REQUEST) == first

    # GIVEN a request that was refused (4xx) THEN the key is free for a fixed request
    keys.release("m-1", ROUTE, "key-1")
    assert isinstance(keys.begin("m-1", ROUTE, "key-1", '{"amount":1}'), Claim)


def test_a_key_is_kept_for_a_day_then_free(keys: Any, clock: FakeClock) -> None:
    first = keys.begin("m-1", ROUTE, "key-1", REQUEST)
    keys.complete("m-1", ROUTE, "key-1", OK)

    clock.advance(KEEP_SECONDS)

    again = keys.begin("m-1", ROUTE, "key-1", '{"amount":1}')
    assert isinstance(again, Claim) and again != first


# Merchants


def test_a_registered_merchant_is_found_by_its_key_and_audited(merchants: Any) -> None:
    # WHEN a merchant is registered
    issued = merchants.create_merchant("ada", "Ada", created_at=100, actor="ops")

    # THEN its key finds it, shown once: only its key id is kept with the record
    assert merchants.find_by_api_key(issued.api_key) == issued.merchant
    record = merchants.get_merchant("ada")
    assert (record.merchant_id, record.name, record.created_at) == ("ada", "Ada", 100)
    assert [(k.key_id, k.created_at, k.active) for k in record.keys] == [(issued.key_id, 100, True)]
    assert [(e.action, e.key_id, e.actor) for e in record.audit] == [
        ("merchant_created", issued.key_id, "ops")
    ]
    assert issued.api_key not in repr(record)


def test_a_merchant_id_is_registered_once_and_must_be_valid(merchants: Any) -> None:
    merchants.create_merchant("ada", "Ada", created_at=0, actor="ops")

    with pytest.raises(MerchantExistsError):
        merchants.create_merchant("ada", "Another Ada", created_at=1, actor="ops")
    for merchant_id, name in (("bad id", "Name"), ("ok", ""), ("ok", "4242 4242 4242 4242")):
        with pytest.raises(InvalidMerchantError):
            merchants.create_merchant(merchant_id, name, created_at=0, actor="ops")
    assert [record.merchant_id for record in merchants.list_merchants()] == ["ada"]


def test_a_chosen_key_is_registered_as_given(merchants: Any) -> None:
    issued = merchants.create_merchant(
        "dev", "Dev", created_at=0, actor="local", api_key="pg_" + "k" * 43
    )

    assert issued.api_key == "pg_" + "k" * 43
    assert merchants.find_by_api_key("pg_" + "k" * 43).merchant_id == "dev"


def test_a_rotated_key_stops_working_once_revoked(merchants: Any) -> None:
    # GIVEN a merchant with a second key
    first = merchants.create_merchant("ada", "Ada", created_at=0, actor="ops")
    second = merchants.add_key("ada", created_at=5, actor="ops")

    # WHEN its first key is revoked
    assert merchants.revoke_key("ada", first.key_id, revoked_at=9, actor="ops") is True

    # THEN only the second works; revoking again changes nothing; the trail says it all
    assert merchants.find_by_api_key(first.api_key) is None
    assert merchants.find_by_api_key(second.api_key).merchant_id == "ada"
    assert merchants.revoke_key("ada", first.key_id, revoked_at=10, actor="ops") is False
    record = merchants.get_merchant("ada")
    assert [(k.key_id, k.revoked_at) for k in record.keys] == [
        (first.key_id, 9),
        (second.key_id, None),
    ]
    assert [e.action for e in record.audit] == ["merchant_created", "key_added", "key_revoked"]


def test_keys_of_unknown_merchants_and_unknown_keys_are_refused(merchants: Any) -> None:
    merchants.create_merchant("ada", "Ada", created_at=0, actor="ops")

    with pytest.raises(UnknownMerchantError):
        merchants.add_key("nobody", created_at=0, actor="ops")
    with pytest.raises(UnknownMerchantError):
        merchants.revoke_key("nobody", "key_x", revoked_at=0, actor="ops")
    with pytest.raises(UnknownKeyError):
        merchants.revoke_key("ada", "key_unknown", revoked_at=0, actor="ops")
    assert merchants.find_by_api_key("pg_never_issued_key_0000") is None
    assert merchants.get_merchant("nobody") is None


def test_with_no_keys_from_before_registration_nothing_is_adopted(merchants: Any) -> None:
    merchants.create_merchant("ada", "Ada", created_at=0, actor="ops")

    assert merchants.adopt_legacy_keys(now=1, actor="ops") == []


# Dead letters


class LettersUnderTest:
    """The DLQ tools over a payment store, a way to dead-letter a body, and what reached
    the jobs queue."""

    def __init__(self, kind: str, request: pytest.FixtureRequest) -> None:
        def now_ms() -> int:
            return int(time.time() * 1000)

        if kind == "memory":
            self.payments: Any = InMemoryPaymentStore(POLICY)
            self.memory = InMemoryDeadLetterQueue(self.payments, now_ms, MAX_RECEIVE_COUNT)
            self.letters: DeadLetters = self.memory
            return
        self.aws = request.getfixturevalue("aws")
        settings = self.aws.settings
        self.payments = DynamoPaymentStore(
            self.aws.dynamodb, settings.payments_table, POLICY, LAYOUT
        )
        self.letters = SqsDeadLetterQueue(
            self.aws.sqs, self.aws.dlq_url, settings.jobs_queue_url, self.payments, now_ms
        )

    def dead_letter(self, body: str) -> str:
        if hasattr(self, "memory"):
            return self.memory.dead_letter(body)
        sent = self.aws.sqs.send_message(QueueUrl=self.aws.dlq_url, MessageBody=body)
        return str(sent["MessageId"])

    def replayed(self) -> list[PaymentJob]:
        if hasattr(self, "memory"):
            return list(self.memory.replayed)
        messages = self.aws.sqs.receive_message(
            QueueUrl=self.aws.settings.jobs_queue_url, MaxNumberOfMessages=10
        ).get("Messages", [])
        return [PaymentJob.from_body(message["Body"]) for message in messages]

    def in_flight(self, merchant_id: str = "m-1") -> Payment:
        payment = created(merchant_id)
        self.payments.add(payment)
        return submit(self.payments, payment)

    def final(self) -> Payment:
        processing = self.in_flight()
        declined = processing.with_outcome(
            BankOutcome(PaymentStatus.DECLINED, "card_declined", "declined"), processing.updated_at
        )
        self.payments.save_transition(processing, declined)
        return declined


@pytest.fixture
def dlq(kind: str, request: pytest.FixtureRequest) -> LettersUnderTest:
    return LettersUnderTest(kind, request)


def _job_of(payment: Payment) -> str:
    return PaymentJob(payment.payment_id, "req-1").to_body()


def test_a_job_of_a_payment_in_flight_is_listed_in_place_then_replayed(
    dlq: LettersUnderTest,
) -> None:
    # GIVEN the job of a payment in flight in the DLQ
    payment = dlq.in_flight()
    message_id = dlq.dead_letter(_job_of(payment))

    # WHEN ops list it (twice) THEN it is a job, with its payment's merchant and amount
    for _ in range(2):
        (letter,) = dlq.letters.list()
        assert (letter.message_id, letter.kind, letter.payment_id) == (
            message_id,
            LetterKind.JOB,
            payment.payment_id,
        )
        assert (letter.merchant_id, letter.amount) == ("m-1", 1250)
        assert letter.receives_when_dead_lettered == MAX_RECEIVE_COUNT
    assert dlq.letters.show(message_id) is not None

    # WHEN it is replayed THEN the job is back on the jobs queue and gone from the DLQ
    report = dlq.letters.replay()
    assert [letter.message_id for letter in report.replayed] == [message_id]
    assert dlq.replayed() == [PaymentJob(payment.payment_id, "req-1")]
    assert dlq.letters.list() == []


def test_a_stale_copy_is_dropped_and_poison_stays_until_deleted(dlq: LettersUnderTest) -> None:
    # GIVEN a copy of a job whose payment is final, and a body that is no job at all
    final = dlq.final()
    stale = dlq.dead_letter(_job_of(final))
    poison = dlq.dead_letter('{"note": "card 4242 4242 4242 4242"}')
    kinds = {letter.message_id: letter for letter in dlq.letters.list()}
    assert (kinds[stale].kind, kinds[poison].kind) == (LetterKind.STALE, LetterKind.POISON)
    assert "4242" not in kinds[poison].body_preview

    # WHEN they are replayed THEN the stale copy is dropped, the poison left, nothing queued
    report = dlq.letters.replay()
    assert [letter.message_id for letter in report.dropped_stale] == [stale]
    assert (report.replayed, report.left, dlq.replayed()) == ([], 1, [])

    # WHEN poison is deleted THEN the DLQ is empty
    deleted = dlq.letters.delete()
    assert [letter.message_id for letter in deleted.deleted] == [poison]
    assert dlq.letters.list() == []


def test_a_dry_run_and_a_filter_leave_the_others_in_place(dlq: LettersUnderTest) -> None:
    # GIVEN jobs of two merchants' payments
    ada, bob = dlq.in_flight("ada"), dlq.in_flight("bob")
    dlq.dead_letter(_job_of(ada))
    dlq.dead_letter(_job_of(bob))
    seen: list[LetterAction] = []

    # WHEN a dry run replays all THEN it says what it would do, and does nothing
    dry = dlq.letters.replay(dry_run=True, on_letter=lambda _, action: seen.append(action))
    assert (len(dry.replayed), seen) == (2, [LetterAction.REPLAYED] * 2)
    assert len(dlq.letters.list()) == 2

    # WHEN only bob's are replayed THEN ada's stays
    only_bob = dlq.letters.replay(only=LetterFilter(merchant_id="bob"))
    assert ([letter.payment_id for letter in only_bob.replayed], only_bob.others) == (
        [bob.payment_id],
        1,
    )
    assert [letter.payment_id for letter in dlq.letters.list()] == [ada.payment_id]


def test_jobs_are_deleted_only_when_asked_to(dlq: LettersUnderTest) -> None:
    dlq.dead_letter(_job_of(dlq.in_flight()))

    assert dlq.letters.delete().deleted == []
    assert len(dlq.letters.delete(include_jobs=True).deleted) == 1
    assert dlq.letters.list() == []
