"""In-memory fakes of the registry ports (idempotency keys, merchants, the payment jobs'
dead letters) for the unit tier. tests/contract/test_registry_ports_contract.py holds each
to its AWS adapter."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.domain.clock import Clock, epoch_seconds
from core.domain.dead_letters import DeadLetters
from core.domain.errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    MerchantExistsError,
    UnknownKeyError,
    UnknownMerchantError,
)
from core.domain.idempotency import IN_PROGRESS_SECONDS, KEEP_SECONDS, Claim, StoredAnswer
from core.domain.jobs import PaymentJob
from core.domain.merchants import (
    AuditEntry,
    IssuedKey,
    KeyRecord,
    Merchant,
    MerchantRecord,
    api_key_digest,
    check_merchant,
    generate_api_key,
    key_id_of,
)
from core.domain.ports import PaymentStore, QueueDepth
from tests.fakes_letters import InMemoryLetterHold


@dataclass
class _Held:
    request: str
    claim_id: str
    expires_at: int
    locked_until: int
    answer: StoredAnswer | None = None


class InMemoryIdempotencyStore:
    """IdempotencyStore on a dict, on an injected clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._keys: dict[tuple[str, str, str], _Held] = {}
        self._claims = (f"claim-{n}" for n in itertools.count(1))

    def begin(self, merchant_id: str, route: str, key: str, request: str) -> StoredAnswer | Claim:
        now = epoch_seconds(self._clock)
        scope = (merchant_id, route, key)
        held = self._keys.get(scope)
        if held is None or held.expires_at <= now:
            held = _Held(request, next(self._claims), now + KEEP_SECONDS, now + IN_PROGRESS_SECONDS)
            self._keys[scope] = held
            return Claim(held.claim_id)
        if held.request != request:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used with a different request",
                held_request=held.request,
            )
        if held.answer is not None:
            return held.answer
        if held.locked_until > now:
            raise IdempotencyKeyInUseError(
                "a request with this Idempotency-Key is still being processed"
            )
        held.locked_until = now + IN_PROGRESS_SECONDS
        return Claim(held.claim_id)

    def complete(self, merchant_id: str, route: str, key: str, answer: StoredAnswer) -> None:
        held = self._keys.get((merchant_id, route, key))
        if held is not None:
            held.answer = answer

    def release(self, merchant_id: str, route: str, key: str) -> None:
        self._keys.pop((merchant_id, route, key), None)

    def unlock(self, merchant_id: str, route: str, key: str) -> None:
        held = self._keys.get((merchant_id, route, key))
        if held is not None and held.answer is None:
            held.locked_until = epoch_seconds(self._clock)


class InMemoryMerchantStore:
    """MerchantStore on dicts: merchants by id, and the merchant of each key digest."""

    def __init__(self) -> None:
        self._merchants: dict[str, Merchant] = {}
        self._records: dict[str, MerchantRecord] = {}
        self._keys: dict[str, tuple[str, str]] = {}  # digest -> (merchant id, key id)
        self._revoked: set[str] = set()

    def create_merchant(
        self,
        merchant_id: str,
        name: str,
        *,
        created_at: int,
        actor: str,
        usage_key: str | None = None,
        api_key: str | None = None,
    ) -> IssuedKey:
        check_merchant(merchant_id, name)
        api_key = api_key or generate_api_key()
        if merchant_id in self._merchants or api_key_digest(api_key) in self._keys:
            raise MerchantExistsError(f"merchant {merchant_id} exists already")
        self._merchants[merchant_id] = Merchant(merchant_id, name, usage_key)
        self._records[merchant_id] = MerchantRecord(merchant_id, name, created_at)
        return self._issue(merchant_id, api_key, created_at, "merchant_created", actor)

    def add_key(self, merchant_id: str, *, created_at: int, actor: str) -> IssuedKey:
        self._record(merchant_id)
        return self._issue(merchant_id, generate_api_key(), created_at, "key_added", actor)

    def revoke_key(self, merchant_id: str, key_id: str, *, revoked_at: int, actor: str) -> bool:
        record = self._record(merchant_id)
        key = next((key for key in record.keys if key.key_id == key_id), None)
        if key is None:
            raise UnknownKeyError(f"merchant {merchant_id} has no key {key_id}")
        if not key.active:
            return False
        self._revoked |= {d for d, (_, kid) in self._keys.items() if kid == key_id}
        self._records[merchant_id] = replace(
            record,
            keys=[replace(k, revoked_at=revoked_at) if k is key else k for k in record.keys],
            audit=[*record.audit, AuditEntry(revoked_at, "key_revoked", key_id, actor)],
        )
        return True

    def get_merchant(self, merchant_id: str) -> MerchantRecord | None:
        return self._records.get(merchant_id)

    def list_merchants(self) -> list[MerchantRecord]:
        return [self._records[merchant_id] for merchant_id in sorted(self._records)]

    def find_by_api_key(self, api_key: str) -> Merchant | None:
        digest = api_key_digest(api_key)
        if digest not in self._keys or digest in self._revoked:
            return None
        return self._merchants[self._keys[digest][0]]

    def adopt_legacy_keys(self, *, now: int, actor: str) -> list[str]:
        # Keys from before merchants were registered exist only in old DynamoDB tables.
        return []

    def _record(self, merchant_id: str) -> MerchantRecord:
        record = self._records.get(merchant_id)
        if record is None:
            raise UnknownMerchantError(f"no merchant {merchant_id}")
        return record

    def _issue(self, merchant_id: str, api_key: str, at: int, action: str, actor: str) -> IssuedKey:
        digest = api_key_digest(api_key)
        key_id = key_id_of(digest)
        self._keys[digest] = (merchant_id, key_id)
        record = self._records[merchant_id]
        self._records[merchant_id] = replace(
            record,
            keys=sorted(
                [*record.keys, KeyRecord(key_id, at)], key=lambda k: (k.created_at, k.key_id)
            ),
            audit=[*record.audit, AuditEntry(at, action, key_id, actor)],
        )
        return IssuedKey(self._merchants[merchant_id], api_key, key_id)


class InMemoryDeadLetterQueue(DeadLetters):
    """DeadLetters on a list: `dead_letter` puts a body in as SQS would after the jobs
    queue's last receive; replayed jobs land in `replayed` (the jobs queue)."""

    def __init__(
        self,
        payments: PaymentStore,
        now_ms: Callable[[], int],
        receives_before_dead_lettering: int | None,
    ) -> None:
        self._dlq = InMemoryLetterHold("m-")
        super().__init__(now_ms, self._dlq, payments, lambda error: type(error).__name__)
        self._receives = receives_before_dead_lettering
        self.replayed: list[PaymentJob] = []

    @property
    def receives_when_dead_lettered(self) -> int | None:
        return self._receives

    def dead_letter(self, body: str) -> str:
        return self._dlq.add(body, sent_at_ms=self._now_ms())

    def depth(self) -> QueueDepth:
        return QueueDepth(visible=len(self._dlq.letters), in_flight=0, delayed=0)

    def _requeue(self, job: PaymentJob) -> None:
        self.replayed.append(job)
