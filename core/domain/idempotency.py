"""Idempotency keys for merchants' POSTs (the `Idempotency-Key` header): the rule and its
port (core/adapters/dynamodb_idempotency.py keeps it in DynamoDB).

Scoped to the merchant and kept 24 hours: the same key with the same request replays the
first answer; with a different request it is refused (422); while the first request is
still running, a repeat is refused (409). Only successful answers are kept: after a refusal
(4xx) the key is released so the merchant can fix the request and retry with the same key;
after a failure (5xx, or a crash) a retry takes over the first request's claim, so what the
first request did is found again and never done twice (create-payment never creates a
second payment for one key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

KEEP_SECONDS = 24 * 3600
# A request still "in progress" after this long died with its Lambda: the key is free again.
IN_PROGRESS_SECONDS = 60


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str


@dataclass(frozen=True)
class Claim:
    """This request holds the key. `claim_id` is the same for every request that holds the
    key in its lifetime (a retry after a crash takes over the claim), so work derived from
    it is found again instead of done twice: create-payment derives the payment id."""

    claim_id: str


class IdempotencyStore(Protocol):
    def begin(self, merchant_id: str, route: str, key: str, request: str) -> StoredAnswer | Claim:
        """Claim the key for this request: a Claim means go ahead, answer, then `complete`;
        a StoredAnswer means replay it. Raises IdempotencyKeyInUseError (409) while the
        first request is still running (for IN_PROGRESS_SECONDS at most), and
        IdempotencyKeyReusedError (422) for another request with the same key."""
        ...

    def complete(self, merchant_id: str, route: str, key: str, answer: StoredAnswer) -> None:
        """The request succeeded: its answer is replayed to every repeat for KEEP_SECONDS."""
        ...

    def release(self, merchant_id: str, route: str, key: str) -> None:
        """The request was refused (4xx): nothing was done, the key is free for a fixed one."""
        ...

    def unlock(self, merchant_id: str, route: str, key: str) -> None:
        """The request failed (5xx) and may have done part of its work: keep its claim, so a
        retry takes it over at once and finds that work again."""
        ...
