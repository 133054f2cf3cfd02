from __future__ import annotations

import pytest

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
