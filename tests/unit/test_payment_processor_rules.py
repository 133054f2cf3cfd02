"""The worker's rules as ops and the bank see them: what each job answers, the log lines and
metrics it leaves, the reasons `paygate dlq list` shows, what the bank is sent, and how long
it waits between attempts, on the in-memory fakes with a virtual monotonic clock."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from core.domain.errors import ConcurrentUpdateError, UnreadablePaymentError
from core.domain.jobs import PaymentJob
from core.domain.payment import BankOutcome, Payment, PaymentStatus
from core.domain.ports import AuthorizationRequest
from core.domain.reconcile_policy import ReconcilePolicy
from core.observability import CORRELATION_KEY
from core.settings import Settings
from core.use_cases.payment_processor import (
    NOTE_ATTEMPTS,
    JobResult,
    PaymentProcessor,
    PoisonJobError,
    ProcessedJob,
)
from tests.fakes import FakeBank, InMemoryPaymentStore
from tests.support import FakeClock
from tests.unit.log_lines import lines_saying
from tests.unit.use_case_world import CARD, MERCHANT, World

FAR = 10_000.0
PENDING = BankOutcome(PaymentStatus.PENDING)


@dataclass
class Worker:
    """A processor on the world's fakes, its monotonic clock virtual: a sleep advances it."""

    world: World
    settings: Settings
    ticks: FakeClock = field(default_factory=lambda: FakeClock(start=100.0))
    slept: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        # No `describe`: ours is the default, the error's type.
        self.processor = PaymentProcessor(
            payments=self.world.store,
            vault=self.world.vault,
            bank=self.world.bank,
            jobs=self.world.jobs,
            clock=self.world.clock,
            settings=self.settings,
            metrics=self.world.metrics,
            monotonic=self.ticks.now,
            sleep=self._sleep,
        )

    def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.ticks.advance(seconds)

    def process(self, payment: Payment, within: float = FAR) -> ProcessedJob:
        job = PaymentJob(payment.payment_id, "req-1")
        return self.processor.process(job, deadline=self.ticks.now() + within)


def _worker(world: World, **settings: Any) -> Worker:
    return Worker(world, world.settings.replace(**settings))


def _line(payment: Payment, **more: Any) -> dict[str, Any]:
    return {"paymentId": payment.payment_id, CORRELATION_KEY: "req-1", **more}


def _has(line: dict[str, Any], expected: dict[str, Any]) -> bool:
    return {key: line.get(key) for key in expected} == expected


def _one(collector: Any, message: str) -> dict[str, Any]:
    lines = lines_saying(collector, message)
    assert len(lines) == 1, lines
    return lines[0]


def test_each_job_answers_its_payment_and_result_and_logs_the_outcome(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a submitted payment, and its job delivered twice
    world = World()
    payment = world.submitted()
    worker = _worker(world)

    # WHEN the worker processes both
    first, second = worker.process(payment), worker.process(payment)

    # THEN the first records the outcome, the second is a duplicate, both name the payment
    assert first == ProcessedJob(payment.payment_id, JobResult.RECORDED, PaymentStatus.ACCEPTED)
    assert second == ProcessedJob(payment.payment_id, JobResult.DUPLICATE, PaymentStatus.ACCEPTED)
    recorded = _one(no_card_data_in_output, "bank outcome recorded")
    assert _has(recorded, _line(payment, status="Accepted"))
    duplicate = _one(no_card_data_in_output, "job for a payment with nothing to do acknowledged")
    assert _has(duplicate, _line(payment))


def test_the_bank_is_sent_the_payment_as_submitted() -> None:
    world = World(bank=RecordingBank())
    payment = world.submitted(amount=4200)

    _worker(world).process(payment)

    assert world.bank.requests == [  # type: ignore[attr-defined]
        AuthorizationRequest(
            payment_id=payment.payment_id,
            merchant_id=MERCHANT,
            amount=4200,
            currency="EUR",
            expiry_year=2035,
            expiry_month=12,
            card=CARD,
        )
    ]


def test_a_lost_race_answers_the_winners_status_and_says_so(no_card_data_in_output: Any) -> None:
    # GIVEN another writer records the payment Declined just before this worker writes
    world = World(store_class=RacedStore)
    payment = world.submitted()
    world.store.winner = PaymentStatus.DECLINED  # type: ignore[attr-defined]

    # WHEN the worker records the bank's Accepted
    result = _worker(world).process(payment)

    # THEN the winner's result stands and is what the job answers
    assert result == ProcessedJob(payment.payment_id, JobResult.LOST_RACE, PaymentStatus.DECLINED)
    line = _one(no_card_data_in_output, "lost a race; the other writer's result stands")
    assert _has(line, _line(payment))
    assert world.metrics.counts["LostRaces"] == 1


def test_a_lost_race_on_a_payment_gone_meanwhile_answers_its_last_known_status() -> None:
    world = World(store_class=RacedStore)
    payment = world.submitted()
    world.store.winner = None  # type: ignore[attr-defined]

    result = _worker(world).process(payment)

    assert result == ProcessedJob(payment.payment_id, JobResult.LOST_RACE, PaymentStatus.PROCESSING)


def test_a_pending_answer_schedules_a_recheck_counted_in_the_metrics() -> None:
    world = World(
        bank=FakeBank({1250: PENDING}, pending_becomes=BankOutcome(PaymentStatus.ACCEPTED))
    )
    payment = world.submitted()

    _worker(world).process(payment)

    assert world.metrics.counts["RechecksScheduled"] == 1
    assert [job.payment_id for job, _ in world.jobs.take()] == [payment.payment_id]


def test_a_recheck_retries_the_inquiry_through_a_passing_outage(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a Pending payment, and a bank down for its next call
    world = World(
        bank=FakeBank({1250: PENDING}, pending_becomes=BankOutcome(PaymentStatus.ACCEPTED))
    )
    payment = world.submitted()
    worker = _worker(world)
    worker.process(payment)
    world.bank.unavailable = 1

    # WHEN the recheck comes
    result = worker.process(world.store.get(payment.payment_id))  # type: ignore[arg-type]

    # THEN the inquiry is retried (logged with why) and the payment accepted
    assert result.status is PaymentStatus.ACCEPTED
    line = _one(no_card_data_in_output, "bank call failed; retrying")
    reason = "the bank is unavailable (fake outage)"
    assert _has(line, _line(payment, attempt=1, reason=reason))


def test_a_pending_payment_the_bank_has_no_answer_for_says_so_in_the_dlq() -> None:
    world = World(bank=FakeBank({1250: PENDING}))
    payment = world.submitted()
    worker = _worker(world)
    worker.process(payment)
    world.bank.ledger.clear()

    with pytest.raises(Exception, match=r"^the bank has no answer for this payment yet$"):
        worker.process(world.store.get(payment.payment_id))  # type: ignore[arg-type]

    noted = world.store.get(payment.payment_id)
    assert noted is not None and noted.failure is not None
    assert noted.failure.reason == "the bank has no answer for this payment yet"


def test_from_exactly_its_settle_time_a_job_settles_the_payment_through_an_outage(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a payment whose job arrives at exactly its settle time, the bank down once
    world = World()
    payment = world.submitted()
    world.clock.advance(
        ReconcilePolicy.of(world.settings).settle_from(payment.created_at) - payment.created_at
    )
    world.bank.unavailable = 1

    # WHEN the worker processes it
    result = _worker(world).process(payment)

    # THEN the bank voided it (never authorized): it ends Failed, logged and counted
    assert result == ProcessedJob(payment.payment_id, JobResult.RECORDED, PaymentStatus.FAILED)
    assert world.bank.calls == [("void", payment.payment_id)] * 2
    line = _one(no_card_data_in_output, "payment settled at its bound")
    assert _has(line, _line(payment, status="Failed"))
    assert world.metrics.counts["PaymentsResolved"] == 1


def test_the_reconciler_settling_a_payment_logs_it_by_payment_id(
    no_card_data_in_output: Any,
) -> None:
    world = World()
    payment = world.submitted()

    result = _worker(world).processor.resolve(
        payment, PaymentJob(payment.payment_id, "req-1"), deadline=FAR
    )

    assert result.status is PaymentStatus.FAILED
    assert _has(_one(no_card_data_in_output, "payment settled at its bound"), _line(payment))


def test_a_poison_job_says_why_for_the_dlq() -> None:
    # GIVEN a job for no payment, one for a payment still Created, one for an unreadable
    # item, and one for a payment in flight without its card
    world = World(store_class=UnreadableStore)
    created = world.service.create_payment(MERCHANT, MERCHANT)
    cardless = world.submitted()
    world.store.erase_card(cardless)
    world.store.unreadable = "damaged"  # type: ignore[attr-defined]
    worker = _worker(world)

    def why(payment_id: str) -> str:
        with pytest.raises(PoisonJobError) as raised:
            worker.processor.process(PaymentJob(payment_id, "req-1"), deadline=FAR)
        return str(raised.value)

    # WHEN each is processed THEN each says why it can never succeed
    assert why("missing") == "no payment missing"
    assert why(created.payment_id) == f"payment {created.payment_id} is Created, not in flight"
    assert why("damaged") == "item damaged is not a payment"
    assert (
        why(cardless.payment_id) == f"payment {cardless.payment_id} is in flight without its card"
    )


def test_an_answer_that_could_not_be_recorded_is_noted_for_the_dlq() -> None:
    # GIVEN a table that refuses the outcome's write, and the note's first try as well
    world = World(store_class=ThrottledStore)
    payment = world.submitted()
    world.store.writes_fail = True  # type: ignore[attr-defined]
    world.store.note_failures = 1  # type: ignore[attr-defined]

    # WHEN the worker has the bank's answer
    with pytest.raises(ConnectionError):
        _worker(world).process(payment)

    # THEN the DLQ listing says the bank answered, and what failed
    noted = world.store.get(payment.payment_id)
    assert noted is not None and noted.failure is not None
    assert noted.failure.reason == "the bank's answer (Accepted) was not recorded: ConnectionError"


def test_an_answer_neither_recorded_nor_noted_raises_the_writes_error_and_logs_the_note(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a table that refuses the outcome's write and every note
    world = World(store_class=ThrottledStore)
    payment = world.submitted()
    world.store.writes_fail = True  # type: ignore[attr-defined]
    world.store.note_failures = 100  # type: ignore[attr-defined]

    # WHEN the worker has the bank's answer THEN the write's error goes on (SQS redelivers)
    with pytest.raises(ConnectionError):
        _worker(world).process(payment)

    # AND on-call reads that the note was lost too
    line = _one(no_card_data_in_output, "failure not noted")
    assert _has(line, _line(payment, reason="ConnectionError"))


def _failing_at_the_bank(note_failures: int) -> tuple[World, Payment, Worker]:
    """A payment whose job fails at the bank (down for its one attempt), on a table that
    refuses its first `note_failures` failure notes."""
    world = World(store_class=ThrottledStore)
    payment = world.submitted()
    world.store.note_failures = note_failures  # type: ignore[attr-defined]
    world.bank.unavailable = 1
    return world, payment, _worker(world, bank_max_attempts=1)


def test_a_failure_note_is_tried_again_with_short_growing_waits() -> None:
    # GIVEN a bank down for the whole job, and a table that refuses the note 4 times
    world, payment, worker = _failing_at_the_bank(NOTE_ATTEMPTS - 1)

    # WHEN the worker fails on it
    with pytest.raises(Exception, match="unavailable"):
        worker.process(payment)

    # THEN the fifth try notes it, after waits of 0.05 s doubling, each with <= 0.05 s jitter
    noted = world.store.get(payment.payment_id)
    assert noted is not None and noted.failure is not None
    assert len(worker.slept) == NOTE_ATTEMPTS - 1
    for attempt, waited in enumerate(worker.slept):
        assert 0.05 * 2**attempt <= waited <= 0.05 * 2**attempt + 0.05


def test_a_note_that_keeps_failing_is_given_up_after_its_attempts_and_logged(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a bank down for the job, and a table that refuses every note
    world, payment, worker = _failing_at_the_bank(100)

    # WHEN the worker fails on it THEN the job's own error goes on
    with pytest.raises(Exception, match="unavailable"):
        worker.process(payment)

    # AND the note was tried NOTE_ATTEMPTS times, then given up with why
    assert world.store.note_tries == NOTE_ATTEMPTS  # type: ignore[attr-defined]
    line = _one(no_card_data_in_output, "failure not noted")
    assert _has(line, _line(payment, reason="ConnectionError"))


def test_a_note_is_not_tried_again_when_a_try_could_not_finish_before_the_deadline(
    no_card_data_in_output: Any,
) -> None:
    # GIVEN a job with one second left (a note's try may take that long) and a bank down
    world, payment, worker = _failing_at_the_bank(100)

    with pytest.raises(Exception, match="unavailable"):
        worker.process(payment, within=1.0)

    # THEN the note was tried once, and its own error logged
    assert world.store.note_tries == 1  # type: ignore[attr-defined]
    assert _one(no_card_data_in_output, "failure not noted")["reason"] == "ConnectionError"


def test_a_dead_lettered_job_shows_its_receive_count_on_the_payment() -> None:
    world, payment, worker = _failing_at_the_bank(0)
    with pytest.raises(Exception, match="unavailable"):
        worker.process(payment)

    worker.processor.note_dead_lettered(payment.payment_id, 5)

    noted = world.store.get(payment.payment_id)
    assert noted is not None and noted.failure is not None
    assert noted.failure.dead_letter_receives == 5


def test_bank_retries_wait_growing_capped_times_on_the_workers_sleep() -> None:
    # GIVEN a bank down for three calls, retries from 0.1 s doubling, jitter up to 1 s
    world = World()
    payment = world.submitted()
    worker = _worker(
        world, bank_retry_initial_seconds=0.1, bank_retry_max_seconds=1.3, bank_max_attempts=4
    )
    world.bank.unavailable = 3

    # WHEN the worker processes it
    assert worker.process(payment).status is PaymentStatus.ACCEPTED

    # THEN it waited 0.1, 0.2 and 0.4 s plus jitter, never more than the cap
    assert len(worker.slept) == 3
    for attempt, waited in enumerate(worker.slept):
        assert 0.1 * 2**attempt <= waited <= min(0.1 * 2**attempt + 1, 1.3)


def test_an_error_that_is_not_a_bank_outage_is_not_retried() -> None:
    world = World(bank=BrokenOnceBank())
    payment = world.submitted()

    with pytest.raises(ValueError, match="malformed"):
        _worker(world).process(payment)

    assert world.bank.calls == [("authorize", payment.payment_id)]
    noted = world.store.get(payment.payment_id)
    assert noted is not None and noted.failure is not None
    assert noted.failure.reason == "ValueError"


def test_the_bank_latency_is_measured_in_milliseconds_on_the_monotonic_clock() -> None:
    world = World(bank=SlowBank())
    payment = world.submitted()
    worker = _worker(world)
    world.bank.ticks = worker.ticks  # type: ignore[attr-defined]

    worker.process(payment)

    assert world.metrics.timings["BankLatency"] == [250.0]


@pytest.mark.parametrize(
    ("retry_initial", "within", "bank_calls"),
    [
        (0.0, 2.9, 1),  # no attempt of 3 s fits
        (0.0, 3.0, 2),  # the retry fits exactly
        (0.0, 3.5, 2),
        (1.0, 3.5, 1),  # the wait before it counts: 1 s + 3 s would pass the deadline
        (1.0, 5.0, 2),
    ],
)
def test_a_bank_retry_starts_only_if_its_wait_and_attempt_fit_before_the_deadline(
    retry_initial: float, within: float, bank_calls: int
) -> None:
    # GIVEN bank calls that may take 3 s, and a bank down for one call
    world = World()
    payment = world.submitted()
    worker = _worker(
        world,
        bank_timeout_seconds=3.0,
        bank_retry_initial_seconds=retry_initial,
        bank_retry_max_seconds=retry_initial,
    )
    world.bank.unavailable = 1

    # WHEN the job has `within` seconds left
    try:
        worker.process(payment, within=within)
    except Exception as error:
        assert "unavailable" in str(error)

    # THEN the bank was called again only if that call could finish in time
    assert len(world.bank.calls) == bank_calls


class RecordingBank(FakeBank):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[AuthorizationRequest] = []

    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        self.requests.append(request)
        return super().authorize(request, idempotency_key=idempotency_key)


class BrokenOnceBank(FakeBank):
    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        if not self.calls:
            self.calls.append(("authorize", idempotency_key))
            raise ValueError("malformed answer")
        return super().authorize(request, idempotency_key=idempotency_key)


class SlowBank(FakeBank):
    ticks: FakeClock

    def authorize(self, request: AuthorizationRequest, *, idempotency_key: str) -> BankOutcome:
        self.ticks.advance(0.25)
        return super().authorize(request, idempotency_key=idempotency_key)


class RacedStore(InMemoryPaymentStore):
    """Another writer's transition lands first (`winner`: its status, or None: deleted)."""

    winner: PaymentStatus | None = PaymentStatus.DECLINED
    raced = False

    def save_transition(self, before: Payment, after: Payment) -> None:
        if not self.raced and before.status is PaymentStatus.PROCESSING:
            self.raced = True
            if self.winner is None:
                del self._payments[before.payment_id]
            else:
                winner = replace(before, status=self.winner, version=before.version + 1)
                self._payments[before.payment_id] = winner
            raise ConcurrentUpdateError(before.payment_id)
        super().save_transition(before, after)


class UnreadableStore(InMemoryPaymentStore):
    unreadable = ""

    def get(self, payment_id: str) -> Payment | None:
        if payment_id == self.unreadable:
            raise UnreadablePaymentError(f"item {payment_id} is not a payment")
        return super().get(payment_id)


class ThrottledStore(InMemoryPaymentStore):
    """A table under throttling: the outcome's write fails (`writes_fail`), and so do the
    first `note_failures` failure notes."""

    writes_fail = False
    note_failures = 0
    note_tries = 0

    def save_transition(self, before: Payment, after: Payment) -> None:
        if self.writes_fail:
            raise ConnectionError("throttled")
        super().save_transition(before, after)

    def note_failure(self, payment: Payment, reason: str, now: int) -> None:
        self.note_tries += 1
        if self.note_failures:
            self.note_failures -= 1
            raise ConnectionError("throttled")
        super().note_failure(payment, reason, now)
