"""The payments indexes' keys, spread so no one partition takes a peak's writes.

DynamoDB gives each partition about 1,000 write units a second. A key every payment
writes (all in-flight payments) or one busy merchant writes (half of a peak's traffic) is
split by a stable hash of the payment id, the same in every process and release, into
shards (in-flight index) or buckets (byMerchant index) whose count is a setting.
"""

from __future__ import annotations

import hashlib
import re

# createdAt, zero-padded to this many digits, sorts as text as it does as a number (up
# to the API's largest epoch second, 253,402,300,799).
_CREATED_DIGITS = 12
_LISTING_KEY = re.compile(rf"^[0-9]{{{_CREATED_DIGITS}}}#[A-Za-z0-9-]{{1,64}}$")


def stable_slot(payment_id: str, slots: int) -> int:
    digest = hashlib.sha256(payment_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % slots


def in_flight_shard(payment_id: str, shards: int) -> str:
    """The in-flight index partition a payment's in-flight entry lands on."""
    return str(stable_slot(payment_id, shards))


def merchant_bucket(merchant_id: str, payment_id: str, buckets: int) -> str:
    """The byMerchant index partition a payment is listed under."""
    return bucket_key(merchant_id, stable_slot(payment_id, buckets))


def bucket_key(merchant_id: str, bucket: int) -> str:
    return f"{merchant_id}#{bucket}"


def listing_key(created_at: int, payment_id: str) -> str:
    """The byMerchant sort key: creation time, then payment id, as one text that sorts
    like (createdAt, paymentId), so a merchant's buckets merge into one exact order."""
    return f"{created_at:0{_CREATED_DIGITS}d}#{payment_id}"


def is_listing_key(text: str) -> bool:
    """Whether `text` has the shape of a listing key (a listing position to resume at)."""
    return _LISTING_KEY.match(text) is not None


def listing_bounds(created_from: int, created_to: int) -> tuple[str, str]:
    """The sort key range of payments created in [created_from, created_to] ('$' sorts
    just after the '#' of every key of the last second)."""
    return f"{created_from:0{_CREATED_DIGITS}d}#", f"{created_to:0{_CREATED_DIGITS}d}$"
