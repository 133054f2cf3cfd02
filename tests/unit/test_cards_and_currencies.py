from __future__ import annotations

import pytest

from core.domain.card_brands import brand_of, is_card_number
from core.domain.cards import CardSecret, mask_card_number, passes_luhn
from core.domain.currencies import minor_unit_exponent


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4927381603901543", True),
        ("4111111111111111", True),
        ("79927398713", True),
        ("4111111111111112", False),
        ("4927381603901544", False),
        # Each doubled 5 counts 1 (10 - 9): Mastercard's test card and its neighbours.
        ("5555555555554444", True),
        ("5555555555554440", False),
        ("59", True),
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert passes_luhn(number) is valid


def test_a_card_is_masked_to_its_last_four() -> None:
    assert mask_card_number("1543") == "************1543"


@pytest.mark.parametrize(("code", "exponent"), [("EUR", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)])
def test_currencies_know_their_minor_unit(code: str, exponent: int) -> None:
    assert minor_unit_exponent(code) == exponent


def test_an_unknown_currency_has_no_exponent() -> None:
    with pytest.raises(KeyError):
        minor_unit_exponent("XYZ")


def test_a_card_secret_shows_only_its_last_four_however_it_is_printed() -> None:
    card = CardSecret(pan="4000056655665556", cvv="737")

    assert repr(card) == str(card) == f"{card}" == "CardSecret(pan=************5556, cvv=***)"


def _luhn_valid(prefix: str, length: int) -> str:
    """A number of `length` digits starting with `prefix`, its check digit made to pass."""
    body = prefix + "0" * (length - len(prefix) - 1)
    return next(body + d for d in "0123456789" if passes_luhn(body + d))


@pytest.mark.parametrize(
    ("brand", "prefix", "low", "high"),
    [
        ("Discover", "6011", 16, 19),
        ("Diners Club", "36", 14, 19),
        ("JCB", "3528", 16, 19),
        ("UnionPay", "8100", 16, 19),
        ("Maestro", "6759", 16, 19),
    ],
)
def test_a_brand_reads_exactly_the_lengths_it_issues(
    brand: str, prefix: str, low: int, high: int
) -> None:
    for length in (low, high):
        found = brand_of(_luhn_valid(prefix, length))
        assert found is not None and found.name == brand, length
    for length in (low - 1, high + 1):
        assert not is_card_number(_luhn_valid(prefix, length)), length
