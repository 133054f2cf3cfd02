"""Card numbers in free text are caught; identifiers merchants really send are not."""

from __future__ import annotations

import random
import uuid

import pytest

from core.domain.text_rules import contains_card_number, may_hold_card_number, text_problem
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


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Ada\ud800", "must be valid Unicode text (it has a lone surrogate)"),
        ("Ada\x00", "must not contain control characters"),
        ("Ada\x85Lovelace", "must not contain control characters"),  # C1: NEXT LINE
        ("Ada\u202eecalevoL", "must not contain bidirectional control characters"),
        ("Ada\u061c", "must not contain bidirectional control characters"),
        ("Ada\u2069", "must not contain bidirectional control characters"),
        ("Ada\u2028Lovelace", "must not contain line or paragraph separators"),
        ("Ada\u2029Lovelace", "must not contain line or paragraph separators"),
        ("", "must contain visible characters"),
        ("   ", "must contain visible characters"),
        ("\u3164\u3164", "must contain visible characters"),  # Hangul filler
        ("\u2800", "must contain visible characters"),  # Braille blank
        ("\u115f\u1160\u180e\uffa0", "must contain visible characters"),
        ("\u200b\u00a0\u0301\u20dd", "must contain visible characters"),
    ],
)
def test_free_text_that_is_not_plain_visible_text_is_refused_with_why(
    text: str, problem: str
) -> None:
    assert text_problem(text) == problem


@pytest.mark.parametrize(
    "text", ["Ada Lovelace", "X", "Zoë Ñúñez-O'Brien", "李小龙", "Jos\u0065\u0301", "a\u200db"]
)
def test_names_people_have_are_kept(text: str) -> None:
    assert text_problem(text) is None


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        # Up to 5 of anything but letters between groups; a sixth ends the run.
        ("4242     4242     4242     4242", True),
        ("4242      4242      4242      4242", False),
        # Letters and commas end a run: these are four short numbers, no card.
        ("4242a4242b4242c4242", False),
        ("4242,4242,4242,4242", False),
        # Invisible characters and blank letters are read past, even inside a group.
        ("42\u200b42424242424242", True),
        ("42\u3164424242\u030442424242", True),
        # 8-8 or 8-4-4 is a card only with one separator throughout.
        ("42424242 4242 4242", True),
        ("42424242 4242-4242", False),
        # 4-5-4-3 is no layout a card is written in.
        ("4242 42424 2424 242", False),
        # A valid IBAN is no run of digits, and its neighbours are not joined across it.
        ("4242 4242 DK50 0040 0440 1162 43 4242 4242", False),
        # IBAN-shaped with check digits that fail: its digits are read as digits.
        ("GB00 4242 4242 4242 4242", True),
        # A card and its expiry (MMYY) written alike, found in a refund's reason by review.
        ("Refund to card 4111 1111 1111 1111 0127", True),
        ("4242-4242-4242-4242-1227", True),
        ("4242 4242 4242 4242 / 1227", True),
        ("4242 4242 4242 4242 0127 123", True),
        ("5555 5555 5555 4444 0930", True),
        # ... but the fifth group must be a month (01 to 12).
        ("4242 4242 4242 4242 1327", False),
        ("4242 4242 4242 4242 0027", False),
        # Two cards in a row: either is found, after a short group too.
        ("4000 0000 0000 0002 9234 5678 9012 3456", True),
        # Four groups of four that are no card are no card (nothing read past them).
        ("1234 5678 9012 3456", False),
        ("1234 5678 9012 3456 5555 5555 5555 4444", True),
        ("no 12 1234 5678 9012 3456 5555 5555 5555 4444", True),
        ("no 12 4000 0000 0000 0002 9234 5678 9012 3456", True),
        # A tracking number whose fifth group is no month is read whole (22 digits).
        ("9400 1000 0000 0000 0000 00", False),
    ],
)
def test_how_digits_are_grouped_decides_what_is_read_as_a_card(text: str, caught: bool) -> None:
    assert contains_card_number(text) is caught
