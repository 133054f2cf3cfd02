"""The simulated system of one seed: paygate's use cases wired on the in-memory fakes, each
port behind `Faulty`, the jobs queue as SQS behaves, and the actors that drive it:
merchants, worker instances, the reconciler, an operator replaying the DLQ."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from core.adapters.list_cursors import SignedCursors
from core.domain.bank_simulation import (
    DECLINED_AMOUNT,
    INSUFFICIENT_FUNDS_AMOUNT,
    PENDING_AMOUNT,
)
from core.domain.cards import CardSecret
from core.domain.errors import (
    MerchantMismatchError,
    PaygateError,
    PaymentNotFoundError,
)
from core.domain.payment import BankOutcome, CaptureMethod, PaymentStatus
from core.domain.reconcile_policy import ReconcilePolicy
from core.domain.submission import RequestDigests, SubmitCard
from core.resources import MAX_RECEIVE_COUNT
from core.use_cases.payment_listing import ListPayments, PaymentListing
from core.use_cases.payment_operations import PaymentOperations
from core.use_cases.payment_processor import PaymentProcessor
from core.use_cases.payment_service import PaymentService
from core.use_cases.reconciler import Reconciler
from tests.fakes import (
    CountingMetrics,
    FakeBank,
    InMemoryCardVault,
    InMemoryMac,
    InMemoryPaymentStore,
)
from tests.fakes_registry import InMemoryDeadLetterQueue
from tests.simulation.mutants import Mutant
from tests.simulation.port_faults import FaultPlan, Faulty
from tests.simulation.queue import SimulatedQueue
from tests.simulation.scheduler import Scheduler
from tests.simulation.webhooks import Webhooks
from tests.support import FakeClock
from tests.unit.use_case_world import SETTINGS as UNIT_SETTINGS
from workers.payment_worker import process_record

MERCHANTS = ("m-1", "m-2", "m-3")
# A PAN no message, log line or stored field may ever hold in the clear.
PAN = "4111111111111111"
CVV = "737"
# The bank's answers by amount (anything else is Accepted), at the simulated bank's amounts.
ANSWERS = {
    DECLINED_AMOUNT: BankOutcome(PaymentStatus.DECLINED, "card_declined", "Declined"),
    INSUFFICIENT_FUNDS_AMOUNT: BankOutcome(
        PaymentStatus.INSUFFICIENT_FUNDS, "insufficient_funds", "Not enough"
    ),
    PENDING_AMOUNT: BankOutcome(PaymentStatus.PENDING),
}
AMOUNTS = (1250, 1250, 1250, DECLINED_AMOUNT, INSUFFICIENT_FUNDS_AMOUNT, PENDING_AMOUNT)
# What merchants refund (3 the bank declines) and capture (None: all of it): enough that two
# refunds at once can pass what a payment captured.
REFUND_AMOUNTS = (3, 100, 400, 700, 1250)
CAPTURE_AMOUNTS = (None, None, 600, 1250)
VISIBILITY_SECONDS = 60
WORKER_TIMEOUT_SECONDS = 30.0
SETTINGS = replace(
    UNIT_SETTINGS,
    # One payment at a time on the run's own thread: every port call is a turn.
    reconcile_concurrency=1,
    # The bound, 3 h rather than a day: the same rules, in fewer quiet rounds.
    resolve_after_seconds=3 * 3600,
)


class RecordingBank(FakeBank):
    """The simulated bank, counting the authorizations that moved money: a key it has not
    seen before is a new charge of the request's payment."""

    def __init__(self) -> None:
        super().__init__(ANSWERS, pending_becomes=BankOutcome(PaymentStatus.ACCEPTED))
        self.charges: dict[str, int] = {}

    def authorize(self, request: Any, *, idempotency_key: str) -> BankOutcome:
        # (During an outage the call fails before the ledger: no charge.)
        if idempotency_key not in self.ledger and not self.unavailable:
            self.charges[request.payment_id] = self.charges.get(request.payment_id, 0) + 1
        return super().authorize(request, idempotency_key=idempotency_key)


@dataclass
class Submission:
    command: SubmitCard
    # make-payment answered 202 at least once.
    answered: bool = False


@dataclass
class World:
    seed: int
    mutant: Mutant | None = None
    rng: random.Random = field(init=False)
    trace: list[str] = field(default_factory=list)
    submissions: dict[str, Submission] = field(default_factory=dict)
    # Unexpected errors an actor met (a 5xx on AWS): each fails the run.
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.clock = FakeClock()
        self._started = self.clock.now()
        self.scheduler = Scheduler(self.rng)
        self.plan = FaultPlan(
            rate=self.rng.choice((0.0, 0.02, 0.05, 0.1, 0.2)),
            bank_latency_seconds=self.rng.choice((0.0, 0.0, 2.0, 20.0)),
        )
        self.queue = SimulatedQueue(
            self.clock.now,
            self.rng,
            visibility_seconds=VISIBILITY_SECONDS,
            max_receives=MAX_RECEIVE_COUNT,
            duplicate_rate=self.rng.choice((0.0, 0.05, 0.2)),
        )
        policy = ReconcilePolicy.of(SETTINGS)
        store = (self.mutant.store if self.mutant else InMemoryPaymentStore)(policy)
        self.store = store
        self.bank = RecordingBank()
        self.vault = InMemoryCardVault()
        bank: Any = self.mutant.bank(self.bank) if self.mutant else self.bank
        self.digests = RequestDigests(InMemoryMac())
        metrics = CountingMetrics()
        payments = self._faulty("payments", store)
        self.queue.dlq = InMemoryDeadLetterQueue(
            payments, lambda: int(self.clock.now() * 1000), MAX_RECEIVE_COUNT
        )
        vault = self._faulty("vault", self.vault)
        jobs = self._faulty("jobs", self.queue)
        self.processor = PaymentProcessor(
            payments=payments,
            vault=vault,
            bank=self._faulty("bank", bank),
            jobs=jobs,
            clock=self.clock,
            settings=SETTINGS,
            metrics=metrics,
            monotonic=self.clock.now,
            sleep=self.clock.advance,
        )
        self.reconciler = Reconciler(
            payments=payments,
            jobs=jobs,
            processor=self.processor,
            clock=self.clock,
            settings=SETTINGS,
            metrics=metrics,
            monotonic=self.clock.now,
        )
        self.service = PaymentService(
            payments=payments,
            vault=vault,
            jobs=jobs,
            clock=self.clock,
            payment_ttl_seconds=SETTINGS.payment_ttl_seconds,
            recheck_base_seconds=SETTINGS.recheck_base_seconds,
            recheck_cap_seconds=SETTINGS.recheck_cap_seconds,
        )
        self.webhooks = Webhooks(
            store=store,
            rng=self.rng,
            faulty=self._faulty,
            clock=self.clock,
            metrics=metrics,
            payments=payments,
            publish_first_then_commit=not (self.mutant and self.mutant.commits_first),
        )
        for merchant in MERCHANTS:
            for _ in range(self.rng.randint(0, 2)):
                self.webhooks.register(merchant)
        operations = self.mutant.operations if self.mutant else PaymentOperations
        self.operations = operations(
            payments=payments, jobs=jobs, clock=self.clock, metrics=metrics
        )
        self.listing = PaymentListing(
            payments=payments,
            cursors=SignedCursors(InMemoryMac(b"cursor key")),
            clock=self.clock,
            payment_ttl_seconds=SETTINGS.payment_ttl_seconds,
        )

    def _faulty(self, port: str, target: Any) -> Any:
        return Faulty(
            port,
            target,
            scheduler=self.scheduler,
            rng=self.rng,
            plan=self.plan,
            trace=self.note,
            advance=self.clock.advance,
        )

    def note(self, what: str) -> None:
        actor = getattr(self.scheduler._local, "actor", None)
        who = f"#{actor.number} {actor.name}" if actor else "driver"
        elapsed = int(self.clock.now() - self._started)
        self.trace.append(f"t+{elapsed}s {who}: {what}")

    # The actors
    def merchant_pays(self, merchant: str, attempts: int) -> None:
        """Create a payment, then make-payment, trying again (the same request) after a
        5xx or a time-out, as a merchant's client does."""
        self.note("create-payment")
        payment = self._with_retries(lambda: self.service.create_payment(merchant, merchant), 3)
        if payment is None:
            return
        command = self.digests.digested(
            SubmitCard(
                payment_id=payment.payment_id,
                merchant_id=merchant,
                card=CardSecret(pan=PAN, cvv=CVV),
                amount=self.rng.choice(AMOUNTS),
                currency="EUR",
                expiry_year=2031,
                expiry_month=7,
                card_name="Ada Lovelace",
                billing_address="12 Analytical Row",
                capture_method=self.rng.choice(
                    (CaptureMethod.AUTOMATIC, CaptureMethod.AUTOMATIC, CaptureMethod.MANUAL)
                ),
            )
        )
        submission = self.submissions.setdefault(payment.payment_id, Submission(command))
        self.make_payment(submission, attempts)

    def make_payment(self, submission: Submission, attempts: int) -> None:
        command = submission.command
        answer = self._with_retries(
            lambda: self.service.submit_payment(command.merchant_id, command, "corr"),
            attempts,
            payment_id=command.payment_id,
        )
        if answer is not None:
            submission.answered = True

    def _with_retries(
        self, call: Callable[[], Any], attempts: int, *, payment_id: str | None = None
    ) -> Any:
        for _ in range(attempts):
            try:
                return call()
            except PaymentNotFoundError as refused:
                if payment_id is None or not self._expired(payment_id):
                    self.errors.append(f"a merchant's own payment was not found: {refused!r}")
                return None
            except MerchantMismatchError as refused:
                self.errors.append(f"a merchant's own request was refused: {refused!r}")
                return None
            except PaygateError:
                continue  # 503: the queue refused; the same request again
            except Exception:  # noqa: S112 (a 5xx or time-out: the merchant tries again)
                continue
        return None

    def _expired(self, payment_id: str) -> bool:
        """Whether the payment of a 404 is one left unused past its 10 minutes."""
        payment = self.store._payments.get(payment_id)
        return payment is not None and payment.is_expired(int(self.clock.now()))

    def conflicting_payment(self, submission: Submission) -> None:
        """The same payment id with another amount: 409 once the first was accepted."""
        command = replace(submission.command, amount=submission.command.amount + 1, digest="")
        try:
            self.service.submit_payment(command.merchant_id, self.digests.digested(command), "x")
        except PaygateError:
            return
        except Exception:  # a fault on the way: nothing to check
            return
        if submission.answered:
            self.errors.append(f"a different request for {command.payment_id} was accepted")

    def merchant_reads(self, submission: Submission, merchant: str) -> None:
        """get-payment by its merchant, and by another one (404, never a hint)."""
        command = submission.command
        try:
            payment = self.service.get_payment(merchant, merchant, command.payment_id)
        except PaymentNotFoundError:
            if merchant != command.merchant_id or self._expired(command.payment_id):
                return
            self.errors.append(f"{merchant} could not read its own {command.payment_id}")
            return
        except Exception:  # a fault on the way
            return
        if merchant != command.merchant_id:
            self.errors.append(f"{merchant} read another merchant's {command.payment_id}")
        elif PAN in repr(payment) or (payment.status.is_final and payment.card_ciphertext):
            self.errors.append(f"card data readable in {command.payment_id} ({payment.status})")

    def merchant_captures(self, submission: Submission) -> None:
        """capture-payment, tried again after a 5xx (409 once it is under way or done)."""
        command, amount = submission.command, self.rng.choice(CAPTURE_AMOUNTS)
        self._asks(
            lambda: self.operations.capture(
                command.merchant_id, command.merchant_id, command.payment_id, amount, "c"
            )
        )

    def merchant_voids(self, submission: Submission) -> None:
        command = submission.command
        self._asks(
            lambda: self.operations.void(
                command.merchant_id, command.merchant_id, command.payment_id, "v"
            )
        )

    def merchant_refunds(self, submission: Submission) -> None:
        """refund-payment, tried again after a 5xx; with an Idempotency-Key now and then
        (its retries then name the same refund), without one otherwise (a retry of a
        refund whose answer was lost is a second refund, bound by the same rule)."""
        command, amount = submission.command, self.rng.choice(REFUND_AMOUNTS)
        claim = f"key-{self.rng.getrandbits(32)}" if self.rng.random() < 0.5 else None
        self._asks(
            lambda: self.operations.refund(
                command.merchant_id,
                command.merchant_id,
                command.payment_id,
                amount,
                None,
                "r",
                claim,
            )
        )

    def _asks(self, call: Callable[[], Any]) -> None:
        """An operation's request: a 4xx is an answer (409, or 404 for an unpaid payment
        that expired); a fault, the same request again, up to three times."""
        for _ in range(3):
            try:
                call()
                return
            except PaygateError as refused:
                if isinstance(refused, MerchantMismatchError):
                    self.errors.append(f"a merchant's own request was refused: {refused!r}")
                return
            except Exception:  # noqa: S112 (a 5xx or time-out: the merchant tries again)
                continue

    def merchant_lists(self, merchant: str) -> None:
        try:
            page, _ = self.listing.list_payments(merchant, ListPayments(merchant, limit=50))
        except Exception:  # a fault on the way
            return
        strangers = [p.payment_id for p in page if p.merchant_id != merchant]
        if strangers:
            self.errors.append(f"{merchant}'s listing shows others' payments: {strangers}")

    def worker_polls(self) -> None:
        """One Lambda instance's batch: each record processed, the succeeded deleted; a
        crash leaves the rest in flight until their visibility times out."""
        self.scheduler.pause("sqs.receive")
        batch = self.queue.receive(self.rng.randint(1, 10))
        self.note(f"received {len(batch)}")
        deadline = self.clock.now() + WORKER_TIMEOUT_SECONDS
        for message in batch:
            record = SQSRecord(
                {
                    "messageId": str(message.handle),
                    "body": message.body,
                    "attributes": {"ApproximateReceiveCount": str(message.receives)},
                }
            )
            if process_record(record, self.processor, deadline):
                self.scheduler.pause("sqs.delete")
                self.queue.delete(message.handle)

    def reconciler_runs(self) -> None:
        self.note("reconciler run")
        self.reconciler.run(seconds_left=lambda: 240.0)

    def operator_replays(self) -> None:
        self.scheduler.pause("dlq.replay")
        self.note(f"operator replayed {self.queue.replay_dead_letters()} dead letters")
        self.scheduler.pause("webhook dlq.replay")
        self.webhooks.operator_replays()

    def poison(self) -> None:
        body = self.rng.choice(
            ("not json", json.dumps({"paymentId": str(uuid.UUID(int=self.rng.getrandbits(128)))}))
        )
        self.queue.send(body)
        self.note(f"poison message queued: {body[:40]}")
