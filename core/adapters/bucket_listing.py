"""One merchant's byMerchant listing, read from every one of its buckets and merged
newest first into one exact order (createdAt, then paymentId, both descending).

Each bucket is queried for a small chunk (all buckets concurrently), and a bucket is read
further only when the merge needs to know what comes next in it. The queries per call are
bounded: when the budget runs out, the listing stops at a position from which nothing
unseen lies above, and the next call goes on from there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.resources import BY_MERCHANT_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

assert BY_MERCHANT_INDEX.sort_key is not None
LIST_KEY = BY_MERCHANT_INDEX.sort_key.name
# Buckets are read this many at a time.
BUCKET_READERS = 8


def _list_key(item: dict[str, Any]) -> str:
    return str(item[LIST_KEY]["S"])


@dataclass
class _Bucket:
    key: str
    items: deque[dict[str, Any]] = field(default_factory=deque)
    start: dict[str, Any] | None = None
    read: bool = False

    @property
    def exhausted(self) -> bool:
        return self.read and self.start is None

    @property
    def frontier(self) -> str:
        """Everything in this bucket above this key has been read ('' before any read)."""
        return _list_key(self.start) if self.start else ""

    def head(self) -> str:
        return _list_key(self.items[0])


class BucketMerge:
    """`query` is a byMerchant query whose key condition takes the bucket as `:bucket` and
    whose upper bound `skip` (if given) was the last key already listed."""

    def __init__(
        self,
        client: DynamoDBClient,
        query: dict[str, Any],
        buckets: Sequence[str],
        *,
        budget: int,
        skip: str | None,
    ) -> None:
        self._client = client
        self._query = query
        self._buckets = [_Bucket(key) for key in buckets]
        self._budget = budget
        self._skip = skip
        self.queries = 0

    def page(self, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` items newest first, and the key to go on below (None: the end)."""
        self._read(self._buckets)
        page: list[dict[str, Any]] = []
        while len(page) < limit:
            best = max((b for b in self._buckets if b.items), key=_Bucket.head, default=None)
            floor = best.head() if best else ""
            # A bucket not read to the end may still hold something newer than the best
            # head: the merge must see it before it may go on.
            unknown = [
                b for b in self._buckets if not b.items and not b.exhausted and b.frontier > floor
            ]
            if unknown:
                if self.queries + len(unknown) > self._budget:
                    return page, max(b.frontier for b in unknown)
                self._read(unknown)
                continue
            if best is None:
                return page, None
            page.append(best.items.popleft())
        more = any(b.items or not b.exhausted for b in self._buckets)
        return page, (_list_key(page[-1]) if more and page else None)

    def _read(self, buckets: list[_Bucket]) -> None:
        self.queries += len(buckets)
        with ThreadPoolExecutor(max_workers=min(len(buckets), BUCKET_READERS)) as pool:
            list(pool.map(self._read_one, buckets))

    def _read_one(self, bucket: _Bucket) -> None:
        query = dict(self._query)
        query["ExpressionAttributeValues"] = self._query["ExpressionAttributeValues"] | {
            ":bucket": {"S": bucket.key}
        }
        if bucket.start:
            query["ExclusiveStartKey"] = bucket.start
        response = self._client.query(**query)
        bucket.read = True
        bucket.start = response.get("LastEvaluatedKey")
        bucket.items.extend(
            item for item in response.get("Items", []) if _list_key(item) != self._skip
        )
