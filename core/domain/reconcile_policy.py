"""When the reconciler looks at a payment in flight: after `reconcile_after` seconds with no
progress, and in any case in time to settle it before its resolution bound. The time is
kept on the payment (the in-flight index's sort key), so the reconciler finds every payment
due with one query and never scans."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings


@dataclass(frozen=True)
class ReconcilePolicy:
    reconcile_after_seconds: int
    resolve_after_seconds: int
    # The reconciler's period: a payment is settled once the bound is closer than this,
    # so no run can be late for it.
    every_seconds: int

    @classmethod
    def of(cls, settings: Settings) -> ReconcilePolicy:
        return cls(
            settings.reconcile_after_seconds,
            settings.resolve_after_seconds,
            settings.reconcile_every_seconds,
        )

    def settle_from(self, created_at: int) -> int:
        """From this time on, a payment still in flight is settled with the bank: one
        reconciler period before its bound (created + resolve_after)."""
        return created_at + self.resolve_after_seconds - self.every_seconds

    def look_at(self, progress_at: int, created_at: int) -> int:
        """When the reconciler looks next at a payment whose last progress was at
        `progress_at` (a change of state, or its own last look)."""
        return min(progress_at + self.reconcile_after_seconds, self.settle_from(created_at))
