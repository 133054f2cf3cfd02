"""Merchants and their API keys: the rules (who may be registered, what a key looks like)
and the port of the registry (core/adapters/dynamodb_merchants.py keeps it in DynamoDB).

Keys are shown once; only their SHA-256 digest is kept. A merchant id is registered once
and never reused: creating a merchant whose id exists is refused, and a merchant gets
another key only by asking for it explicitly (`add_key`). Every change to a merchant's
keys is audited (who, when, which key).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from core.domain.errors import InvalidMerchantError
from core.domain.text_rules import (
    IDENTIFIER_PATTERN,
    MAX_IDENTIFIER_LENGTH,
    contains_card_number,
    text_problem,
)

# Where the authorizer puts the caller's merchantId for the handlers (requestContext).
MERCHANT_CONTEXT_KEY = "merchantId"
API_KEY_PREFIX = "pg_"
# 32 random bytes: 256 bits, far beyond guessing.
API_KEY_BYTES = 32
KEY_ID_PREFIX = "key_"
# What the authorizer looks up as an API key: the alphabet of ours (API_KEY_PREFIX and 43
# URL-safe characters), at a length with room to spare; anything else is refused unread.
API_KEY_PATTERN = r"[A-Za-z0-9_\-]{16,256}"


MAX_NAME_LENGTH = 100


def check_merchant(merchant_id: str, name: str) -> None:
    if not is_merchant_id(merchant_id):
        raise InvalidMerchantError(
            f"a merchant id is 1 to {MAX_IDENTIFIER_LENGTH} letters, digits, - or _ "
            "(starting with a letter or digit)"
        )
    problem = text_problem(name) if name.strip() else "must not be empty"
    if problem or len(name) > MAX_NAME_LENGTH or contains_card_number(name):
        raise InvalidMerchantError(
            f"a merchant name is plain text of at most {MAX_NAME_LENGTH} characters"
            + (f" ({problem})" if problem else "")
        )


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(API_KEY_BYTES)


def api_key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_id_of(digest: str) -> str:
    """A short public name of a key (for lists and revocation); it reveals nothing of it."""
    return KEY_ID_PREFIX + digest[:12]


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    name: str
    # On AWS: the value of the merchant's API Gateway key, which the authorizer hands to
    # API Gateway so the usage plan throttles each merchant on its own.
    usage_key: str | None = None


@dataclass(frozen=True)
class IssuedKey:
    merchant: Merchant
    api_key: str
    key_id: str


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    created_at: int
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class AuditEntry:
    at: int
    action: str
    key_id: str
    actor: str


@dataclass(frozen=True)
class MerchantRecord:
    merchant_id: str
    name: str
    created_at: int
    keys: list[KeyRecord] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)


def is_merchant_id(merchant_id: str) -> bool:
    return len(merchant_id) <= MAX_IDENTIFIER_LENGTH and bool(
        re.match(IDENTIFIER_PATTERN, merchant_id)
    )


class MerchantStore(Protocol):
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
        """Register a new merchant with its first key; MerchantExistsError if the id is
        taken (whoever holds it keeps it, and no key of theirs is issued to anyone else);
        InvalidMerchantError unless `check_merchant` passes. `api_key` registers a key
        chosen by the caller (the local stack's development key) instead of a new one."""
        ...

    def add_key(self, merchant_id: str, *, created_at: int, actor: str) -> IssuedKey:
        """Another key for an existing merchant (UnknownMerchantError if there is none)."""
        ...

    def revoke_key(self, merchant_id: str, key_id: str, *, revoked_at: int, actor: str) -> bool:
        """The key stops working (UnknownKeyError if the merchant has no such key). Revoking
        a revoked key again changes nothing: False then."""
        ...

    def get_merchant(self, merchant_id: str) -> MerchantRecord | None: ...

    def list_merchants(self) -> list[MerchantRecord]:
        """Every merchant, by id."""
        ...

    def find_by_api_key(self, api_key: str) -> Merchant | None:
        """The merchant of an active key; None for an unknown or revoked one."""
        ...

    def adopt_legacy_keys(self, *, now: int, actor: str) -> list[str]:
        """Register the merchants of keys issued before merchants were registered; returns
        the merchant ids adopted (none on a second run)."""
        ...
