"""Every port call of the simulated system goes through `Faulty`: it first hands the turn
back to the scheduler, then may fail as AWS and the bank fail, chosen by the run's random
source: the process dies just before or just after the call (a crash), the call does not
happen (a throttle, a bank outage), or it happens and its answer is lost (a time-out)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from core.domain.errors import BankUnavailableError, QueueUnavailableError
from tests.faults import SimulatedCrash
from tests.simulation.scheduler import Scheduler


class Fault(Enum):
    CRASH_BEFORE = "crash before"
    THROTTLED = "throttled"
    LOST_RESPONSE = "lost response"
    CRASH_AFTER = "crash after"


class SimulatedThrottleError(Exception):
    """A call AWS refused (throttled, after the SDK's retries): it did not happen."""


class SimulatedTimeoutError(Exception):
    """A call whose answer never came: it may have happened."""


# What an injected fault raises, whichever port it hit.
FAULTS = (
    SimulatedThrottleError,
    SimulatedTimeoutError,
    BankUnavailableError,
    QueueUnavailableError,
)

# What each port raises when its call is refused or times out, as its adapter does.
_REFUSAL: dict[str, type[Exception]] = {
    "bank": BankUnavailableError,
    "jobs": QueueUnavailableError,
}


@dataclass
class FaultPlan:
    """How often a port call fails, and how the bank behaves, in one run."""

    rate: float
    # Bank calls answered only after this many virtual seconds (its latency).
    bank_latency_seconds: float = 0.0
    enabled: bool = True
    injected: dict[Fault, int] = field(default_factory=lambda: dict.fromkeys(Fault, 0))

    def choose(self, rng: random.Random) -> Fault | None:
        if not self.enabled or rng.random() >= self.rate:
            return None
        fault = rng.choice(list(Fault))
        self.injected[fault] += 1
        return fault


class Faulty:
    """A port whose every method call is a turn of the scheduler and may fail."""

    def __init__(
        self,
        port: str,
        target: Any,
        *,
        scheduler: Scheduler,
        rng: random.Random,
        plan: FaultPlan,
        trace: Callable[[str], None],
        advance: Callable[[float], None],
    ) -> None:
        self._port = port
        self._target = target
        self._scheduler = scheduler
        self._rng = rng
        self._plan = plan
        self._trace = trace
        self._advance = advance

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)
        if not callable(method):
            return method
        call = f"{self._port}.{name}"

        def faulty(*args: Any, **kwargs: Any) -> Any:
            self._scheduler.pause(call)
            fault = self._plan.choose(self._rng)
            self._trace(call if fault is None else f"{call} [{fault.value}]")
            if fault is Fault.CRASH_BEFORE:
                raise SimulatedCrash(call)
            if fault is Fault.THROTTLED:
                raise _REFUSAL.get(self._port, SimulatedThrottleError)(f"{call}: throttled")
            if self._port == "bank" and self._plan.bank_latency_seconds:
                self._advance(self._plan.bank_latency_seconds)
            result = method(*args, **kwargs)
            if isinstance(result, Iterator):
                result = self._paged(call, result)
            if fault is Fault.CRASH_AFTER:
                raise SimulatedCrash(call)
            if fault is Fault.LOST_RESPONSE:
                raise _REFUSAL.get(self._port, SimulatedTimeoutError)(f"{call}: no answer")
            return result

        return faulty

    def _paged(self, call: str, pages: Iterator[Any]) -> Iterator[Any]:
        """Each page read is a call of its own."""
        for page in pages:
            self._scheduler.pause(f"{call} (next page)")
            self._trace(f"{call} (next page)")
            yield page
