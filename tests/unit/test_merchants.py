"""Registering merchants as an operator sees it (`paygate merchants create` prints the
refusal's message and exits 2): which ids and names are taken, what a refusal says, and what
the key id an operator lists and revokes by looks like."""

from __future__ import annotations

import re

import pytest

from core.domain.errors import InvalidMerchantError
from core.domain.merchants import API_KEY_PREFIX, MAX_NAME_LENGTH
from core.domain.text_rules import MAX_IDENTIFIER_LENGTH
from tests.fakes_registry import InMemoryMerchantStore

ID_RULE = (
    f"a merchant id is 1 to {MAX_IDENTIFIER_LENGTH} letters, digits, - or _ "
    "(starting with a letter or digit)"
)
NAME_RULE = f"a merchant name is plain text of at most {MAX_NAME_LENGTH} characters"


def refusal(merchant_id: str, name: str) -> str:
    """What the operator reads when the registry refuses the merchant (nothing is kept)."""
    merchants = InMemoryMerchantStore()
    with pytest.raises(InvalidMerchantError) as refused:
        merchants.create_merchant(merchant_id, name, created_at=0, actor="ops")
    assert merchants.list_merchants() == []
    return str(refused.value)


def test_ids_and_names_up_to_their_limits_are_registered() -> None:
    # GIVEN an id and a name each exactly as long as allowed
    merchants = InMemoryMerchantStore()
    merchant_id = "a" * MAX_IDENTIFIER_LENGTH
    name = "N" * MAX_NAME_LENGTH

    # WHEN the merchant is registered THEN it is, under that id and name
    merchants.create_merchant(merchant_id, name, created_at=0, actor="ops")

    assert [(r.merchant_id, r.name) for r in merchants.list_merchants()] == [(merchant_id, name)]


def test_an_id_one_past_its_limit_or_badly_formed_is_refused_with_the_rule() -> None:
    for merchant_id in ("a" * (MAX_IDENTIFIER_LENGTH + 1), "-ada", "ada shop", ""):
        # WHEN an operator registers it THEN the refusal states the rule for ids
        assert refusal(merchant_id, "Ada") == ID_RULE


def test_a_name_one_past_its_limit_is_refused_with_the_rule_alone() -> None:
    # WHEN the name is one character too long (plain text otherwise)
    message = refusal("ada", "N" * (MAX_NAME_LENGTH + 1))

    # THEN the refusal states the rule, with no other reason tacked on
    assert message == NAME_RULE


def test_a_name_with_a_card_number_is_refused_with_the_rule_alone() -> None:
    assert refusal("ada", "Ada 4242 4242 4242 4242") == NAME_RULE


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("Ada\x00Shop", "must not contain control characters"),
        ("\u3164\u3164", "must contain visible characters"),
    ],
)
def test_a_refused_name_says_what_is_wrong_with_it(name: str, reason: str) -> None:
    assert refusal("ada", name) == f"{NAME_RULE} ({reason})"


def test_a_key_id_is_a_short_public_name_that_reveals_nothing_of_the_key() -> None:
    # GIVEN a merchant with two keys
    merchants = InMemoryMerchantStore()
    first = merchants.create_merchant("ada", "Ada", created_at=0, actor="ops")
    second = merchants.add_key("ada", created_at=1, actor="ops")

    # THEN each key id is key_ and 12 hex digits, its own, and no part of its key
    for issued in (first, second):
        assert re.fullmatch("key_[0-9a-f]{12}", issued.key_id)
        assert issued.key_id.removeprefix("key_") not in issued.api_key
        # 32 random bytes, URL-safe base64 without padding: 43 characters
        assert re.fullmatch(API_KEY_PREFIX + "[A-Za-z0-9_-]{43}", issued.api_key)
    assert first.key_id != second.key_id
