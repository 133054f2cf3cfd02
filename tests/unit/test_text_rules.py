"""Card numbers in free text are caught; identifiers merchants really send are not."""

from __future__ import annotations

import random
import uuid

import pytest

from core.domain.text_rules import contains_card_number, may_hold_card_number
from tests.merchant_corpus import legitimate_corpus, written_test_cards

# Random version-4 UUIDs, reproducibly: the keys merchants are told to send.
_RANDOM = random.Random(8)
UUIDS = [str(uuid.UUID(int=_RANDOM.getrandbits(128), version=4)) for _ in range(20_000)]


def test_no_uuid_a_merchant_sends_as_an_idempotency_key_is_taken_for_a_card() -> None:
    refused = [key for key in UUIDS if contains_card_number(key)]
    refused += [key for key in UUIDS[:2000] if contains_card_number(f"order-{key.upper()}")]

    assert refused == []


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        f"{UUIDS[0]} 4242-4242-4242-4242",
        f"4242424242424242 {UUIDS[1]}",
        "ref 42424242-4242-4242",
    ],
)
def test_a_card_number_beside_or_shaped_unlike_a_uuid_is_still_caught(text: str) -> None:
    assert contains_card_number(text)


def test_no_identifier_or_address_of_the_legitimate_corpus_is_taken_for_a_card() -> None:
    # GIVEN 15,000 identifiers and addresses of the kinds merchants send
    corpus = legitimate_corpus()
    assert sum(map(len, corpus.values())) >= 10_000

    # WHEN each is read as free text
    refused = {
        kind: [v for v in values if contains_card_number(v)] for kind, values in corpus.items()
    }

    # THEN none is refused
    assert refused == {kind: [] for kind in corpus}


@pytest.mark.parametrize(
    "key",
    [
        "acc-1796404113495498320",
        "wl-1796404113-17",
        "1796404113495",
        "inv_20261204692651000",
        "ord-2026-12-04-000123456789",
        "112-4242424-4242424",
        "Via Roma 1, 20121 Milano, Tel +39 02 48304225-918",
        "DK50 0040 0440 1162 43",
    ],
)
def test_the_keys_merchants_were_refused_for_are_no_card_numbers(key: str) -> None:
    assert not contains_card_number(key)


def test_every_published_test_card_is_caught_however_it_is_written() -> None:
    # GIVEN the published test cards of every major brand, each written 18 ways
    cards = written_test_cards()
    assert {writing for _, writing, _ in cards} >= {
        "spaces",
        "dashes",
        "dots",
        "inside words",
        "full-width digits",
        "mixed separators",
    }

    # WHEN each is read as free text
    missed = [
        (brand, writing, text) for brand, writing, text in cards if not contains_card_number(text)
    ]

    # THEN every one is caught
    assert missed == []


def test_a_card_number_is_read_whole_never_cut_out_of_a_longer_run() -> None:
    # A 16-digit Visa test card glued to more digits is no card number any brand issues.
    assert contains_card_number("4242424242424242")
    assert not contains_card_number("14242424242424242")
    assert not contains_card_number("42424242424242421")
    # A comma ends a run: a card followed by a house number is still caught.
    assert contains_card_number("4242 4242 4242 4242, 12 Main Street")
    # So is a card followed by its expiry or CVV, or after a flat number.
    assert contains_card_number("4242 4242 4242 4242 12/30 123")
    assert contains_card_number("Apt 5 4242 4242 4242 4242")


@pytest.mark.parametrize(
    ("text", "withheld"),
    [
        ("payment 4242 4242 4242 4242 failed", True),
        ("order 1234-5678-9012 (not a card)", True),
        ("retried 3 times since 2026-12-04 15:30", False),
        ("no digits at all", False),
    ],
)
def test_text_shown_to_ops_is_withheld_on_any_long_run_of_digits(text: str, withheld: bool) -> None:
    # GIVEN text we only show (a dead letter's body), never refuse
    # THEN any run of 12 digits or more is enough to withhold it, card or not
    assert may_hold_card_number(text) is withheld
