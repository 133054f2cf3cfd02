"""One seed, start to end: the driver lets merchants, workers, the reconciler, the operator
and time act in an order the seed chooses, faults on, checking the invariants after every
step; then faults off and the system run until quiet, and checked again."""

from __future__ import annotations

import io
import logging
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from functools import partial

from core.observability import logger
from tests.fakes import FAST_LANE, SLOW_LANE
from tests.simulation.invariants import Watch, at_quiescence
from tests.simulation.mutants import MUTANTS
from tests.simulation.port_faults import FAULTS
from tests.simulation.world import MERCHANTS, World

# What the driver starts, and how often (weights).
_EVENTS = (
    ("pay", 30),
    ("repeat", 8),
    ("duplicates", 4),
    ("conflict", 3),
    ("read", 8),
    ("list", 3),
    ("capture", 4),
    ("void", 1),
    ("refund", 6),
    ("refunds at once", 2),
    ("worker", 22),
    ("reconciler", 5),
    ("replay", 3),
    ("poison", 2),
    ("outage", 2),
    ("time", 10),
    ("publisher", 12),
    ("deliver", 10),
    ("deliver slow", 3),
    ("rotate", 1),
    ("remove endpoint", 1),
)
_OPERATIONS = ("capture", "void", "refund", "refunds at once")
_TIME_STEPS = (1, 5, 30, 61, 300, 1200)
QUIET_ROUNDS = 300
QUIET_STEP_SECONDS = 1


@dataclass
class SeedResult:
    seed: int
    mutant: str | None
    steps: int
    broken: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken

    def replay_command(self) -> str:
        mutant = f" MUTANT={self.mutant}" if self.mutant else ""
        return f"make simulate SEED={self.seed}{mutant}"


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """The use cases log and count every step: thousands of lines a seed, of no use here."""
    inner = logging.getLogger(logger.name)
    level = inner.level
    inner.setLevel(logging.CRITICAL + 1)
    try:
        # The metrics the worker records flush to stdout as CloudWatch EMF lines.
        with redirect_stdout(io.StringIO()):
            yield
    finally:
        inner.setLevel(level)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Payment ids and the retries' jitter drawn from the seed, so a replay names the same
    payments and waits the same virtual seconds."""
    ids = random.Random(f"ids-{seed}")
    drawn, jitter = uuid.uuid4, random.getstate()
    uuid.uuid4 = lambda: uuid.UUID(int=ids.getrandbits(128), version=4)
    random.seed(f"jitter-{seed}")
    try:
        yield
    finally:
        uuid.uuid4 = drawn
        random.setstate(jitter)


def run_seed(seed: int, mutant: str | None = None) -> SeedResult:
    with _quiet_logs(), _seeded(seed):
        world = World(seed, MUTANTS[mutant] if mutant else None)
        result = SeedResult(seed, mutant, 0, trace=world.trace)
        watch = Watch(world)
        try:
            result.broken = _drive(world, watch) or _quiesce(world, watch)
        finally:
            world.scheduler.abandon()
    result.steps = world.scheduler.steps
    return result


def _drive(world: World, watch: Watch) -> list[str]:
    rng = world.rng
    names = [name for name, _ in _EVENTS]
    weights = [weight for _, weight in _EVENTS]
    events = rng.randint(12, 40)
    while events or world.scheduler.ready:
        if events and (not world.scheduler.ready or rng.random() < 0.3):
            events -= 1
            _start(world, rng.choices(names, weights)[0])
        else:
            world.scheduler.step()
        broken = watch.after_step() + _actor_errors(world)
        if broken:
            return broken
    return []


def _start(world: World, event: str) -> None:
    rng, spawn = world.rng, world.scheduler.spawn
    submissions = list(world.submissions.values())
    if event in ("repeat", "duplicates", "conflict", "read", *_OPERATIONS) and not submissions:
        event = "pay"
    if event == "pay":
        merchant = rng.choice(MERCHANTS)
        spawn("merchant pays", lambda: world.merchant_pays(merchant, rng.randint(1, 3)))
    elif event in ("repeat", "duplicates"):
        submission = rng.choice(submissions)
        for _ in range(1 if event == "repeat" else 2):
            spawn("make-payment again", lambda: world.make_payment(submission, 1))
    elif event == "conflict":
        submission = rng.choice(submissions)
        spawn("make-payment, other amount", lambda: world.conflicting_payment(submission))
    elif event == "read":
        submission, reader = rng.choice(submissions), rng.choice(MERCHANTS)
        spawn("get-payment", lambda: world.merchant_reads(submission, reader))
    elif event in _OPERATIONS:
        submission = rng.choice(submissions)
        if event == "capture":
            spawn("capture-payment", lambda: world.merchant_captures(submission))
        elif event == "void":
            spawn("void-payment", lambda: world.merchant_voids(submission))
        else:
            for _ in range(1 if event == "refund" else 2):
                spawn("refund-payment", lambda: world.merchant_refunds(submission))
    elif event == "list":
        merchant = rng.choice(MERCHANTS)
        spawn("list-payments", lambda: world.merchant_lists(merchant))
    elif event == "worker":
        spawn("worker", world.worker_polls)
    elif event == "reconciler":
        spawn("reconciler", world.reconciler_runs)
    elif event == "replay":
        spawn("operator", world.operator_replays)
    elif event == "poison":
        world.poison()
    elif event == "publisher":
        spawn("event publisher", world.webhooks.publisher_reads)
    elif event in ("deliver", "deliver slow"):
        lane = FAST_LANE if event == "deliver" else SLOW_LANE
        spawn(f"{lane} lane", lambda: world.webhooks.deliverer_polls(lane, duplicate_rate=0.1))
    elif event == "rotate":
        spawn("merchant rotates a secret", world.webhooks.merchant_rotates)
    elif event == "remove endpoint":
        spawn("merchant removes an endpoint", world.webhooks.merchant_removes)
    elif event == "outage":
        world.bank.unavailable = rng.randint(1, 12)
        world.note(f"bank outage: the next {world.bank.unavailable} calls fail")
    else:
        seconds = rng.choice(_TIME_STEPS)
        world.clock.advance(seconds)
        world.note(f"{seconds} s pass")


def _quiesce(world: World, watch: Watch) -> list[str]:
    """Faults off; time passes, workers and the reconciler run and the operator replays the
    DLQ, until nothing is in flight and both queues are empty (or the rounds run out)."""
    world.plan.enabled = False
    world.bank.unavailable = 0
    world.note("faults off: running until quiet")
    hooks = world.webhooks
    fast_lane = partial(hooks.deliverer_polls, FAST_LANE, 0.0)
    slow_lane = partial(hooks.deliverer_polls, SLOW_LANE, 0.0)
    for _ in range(QUIET_ROUNDS):
        if _quiet(world):
            break
        # Straight to the next time something is due: idle minutes change nothing.
        now = world.clock.now()
        due = _next_due(world)
        world.clock.advance(max(QUIET_STEP_SECONDS, due - now) if due < float("inf") else 60)
        now = world.clock.now()
        actors: list[tuple[str, Callable[[], None]]] = []
        if world.queue.next_visible_at() <= now:
            actors.append(("worker", world.worker_polls))
        if min(world.store._reconcile_at.values(), default=now + 1) <= now:
            actors.append(("reconciler", world.reconciler_runs))
        if hooks.checkpoint < len(hooks.stream.records):
            actors.append(("event publisher", hooks.publisher_reads))
        if hooks.next_due() <= now:
            actors += [("fast lane", fast_lane), ("slow lane", slow_lane)]
        dead = world.queue.jobs_dead_lettered() or hooks.queue.dead_letters
        if dead and not len(world.queue) and not hooks.queue.waiting():
            actors.append(("operator", world.operator_replays))
        for name, body in actors:
            broken = _run(world, watch, name, body)
            if broken:
                return broken
    return at_quiescence(world) + world.webhooks.at_quiescence()


def _next_due(world: World) -> float:
    """When a message becomes visible or a payment is due a look by the reconciler."""
    reconcile_at = min(world.store._reconcile_at.values(), default=float("inf"))
    return min(world.queue.next_visible_at(), reconcile_at, world.webhooks.next_due())


def _quiet(world: World) -> bool:
    in_flight = any(p.has_work_in_flight for p in world.store._payments.values())
    letters = world.queue.jobs_dead_lettered()
    return not in_flight and not len(world.queue) and not letters and world.webhooks.quiet()


def _run(world: World, watch: Watch, name: str, body: Callable[[], None]) -> list[str]:
    """One actor to its end, checked after each of its steps."""
    world.scheduler.spawn(name, body)
    while world.scheduler.ready:
        world.scheduler.step()
        broken = watch.after_step() + _actor_errors(world)
        if broken:
            return broken
    return []


def _actor_errors(world: World) -> list[str]:
    """An invocation may fail on a fault (Lambda reports it, the alarms count it); any other
    exception out of paygate's code is a bug."""
    failed, world.scheduler.failed = world.scheduler.failed, []
    return [
        f"#{a.number} {a.name} failed at {a.at}: {a.error!r}"
        for a in failed
        if not isinstance(a.error, FAULTS)
    ]
