"""Time as a dependency, so expiry and back-off are testable without sleeping."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


def epoch_seconds(clock: Clock) -> int:
    return int(clock.now())


def utc_today(clock: Clock) -> date:
    return datetime.fromtimestamp(clock.now(), tz=UTC).date()
