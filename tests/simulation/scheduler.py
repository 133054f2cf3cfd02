"""Actors take turns at port calls: each actor runs on a thread of its own, but only the one
the scheduler picked runs, until its next port call (where it hands the turn back) or its
end. The seeded random choice of who goes next is the only source of interleaving, so a
seed replays exactly, and two workers can still race between a read and its conditional
write as on AWS."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.faults import SimulatedCrash


class Abandoned(BaseException):
    """Raised in an actor still waiting for its turn when a run is given up."""


def _taken() -> threading.Lock:
    """A lock held from the start: released by one thread to let the one waiting on it go
    (a raw lock hands over in a fraction of a threading.Semaphore's time)."""
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class Actor:
    number: int
    name: str
    # Where it waits for its turn (the port call it is about to make).
    at: str = "start"
    done: bool = False
    crashed: bool = False
    error: BaseException | None = None
    _go: threading.Lock = field(default_factory=_taken)
    _abandoned: bool = False


class Scheduler:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._yielded = _taken()
        self._local = threading.local()
        self._ready: list[Actor] = []
        self._started = 0
        self.steps = 0
        # Actors ended by an exception nothing expected (a 5xx on AWS).
        self.failed: list[Actor] = []

    @property
    def ready(self) -> list[Actor]:
        return list(self._ready)

    def spawn(self, name: str, body: Callable[[], None]) -> Actor:
        """A new actor, ready to take its first turn."""
        self._started += 1
        actor = Actor(self._started, name)

        def run() -> None:
            self._local.actor = actor
            actor._go.acquire()
            try:
                if actor._abandoned:
                    raise Abandoned
                body()
            except SimulatedCrash:
                actor.crashed = True
            except Abandoned:
                pass
            except BaseException as error:  # reported as the run's failure
                actor.error = error
                self.failed.append(actor)
            finally:
                actor.done = True
                self._yielded.release()

        self._ready.append(actor)
        threading.Thread(target=run, name=f"sim-{actor.number}", daemon=True).start()
        return actor

    def step(self) -> Actor:
        """One turn: a ready actor, picked at random, runs to its next port call or end."""
        actor = self._ready.pop(self._rng.randrange(len(self._ready)))
        self.steps += 1
        actor._go.release()
        self._yielded.acquire()
        return actor

    def pause(self, at: str) -> None:
        """Called by an actor before a port call: wait for its next turn."""
        actor: Actor | None = getattr(self._local, "actor", None)
        if actor is None:
            return  # the driver itself (checks, quiescence set-up): no turn to take
        if actor._abandoned:
            raise Abandoned
        actor.at = at
        self._ready.append(actor)
        self._yielded.release()
        actor._go.acquire()
        if actor._abandoned:
            raise Abandoned

    def abandon(self) -> None:
        """End every actor still waiting, so no thread outlives its run."""
        while self._ready:
            actor = self._ready.pop(0)
            actor._abandoned = True
            actor._go.release()
            self._yielded.acquire()
