"""What free text from a merchant (a card holder's name, an address, a header) may contain.

Refused: lone surrogates (not Unicode at all: they cannot be stored), C0 and C1 control
characters, bidirectional controls (they make text display as something else than it is),
line and paragraph separators, and text made only of invisible characters. Also refused
anywhere in free text: a card number (a Luhn-valid run of 13 to 19 digits, spaces or dashes
allowed between them), which would otherwise be stored and shown in the clear (PCI DSS 3.4).
"""

from __future__ import annotations

import unicodedata

from core.cards import passes_luhn

MIN_PAN_DIGITS = 13
MAX_PAN_DIGITS = 19
# Between the digits of a card number as people type it: "4242 4242", "4242-4242".
_DIGIT_SEPARATORS = frozenset(" -\u00a0\u2010\u2011\u2012\u2013")
_MAX_SEPARATOR_RUN = 2
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Letters that render as nothing: used to make a name look empty.
_BLANK_LETTERS = frozenset("\u115f\u1160\u180e\u2800\u3164\uffa0")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Mn", "Me"})


def text_problem(value: str) -> str | None:
    """Why `value` may not be kept as free text, or None if it may."""
    for character in value:
        category = unicodedata.category(character)
        if category == "Cs":
            return "must be valid Unicode text (it has a lone surrogate)"
        if category == "Cc":
            return "must not contain control characters"
        if character in _BIDI_CONTROLS:
            return "must not contain bidirectional control characters"
        if category in ("Zl", "Zp"):
            return "must not contain line or paragraph separators"
    if all(_is_invisible(character) for character in value):
        return "must contain visible characters"
    return None


def _is_invisible(character: str) -> bool:
    return (
        character.isspace()
        or character in _BLANK_LETTERS
        or unicodedata.category(character) in _INVISIBLE_CATEGORIES
    )


def contains_card_number(text: str) -> bool:
    """Whether any run of 13 to 19 digits in `text` (any script's decimal digits, spaces or
    dashes between them) passes the Luhn check: a card number typed in the wrong field."""
    return any(_has_luhn_window(run) for run in _digit_runs(text) if len(run) >= MIN_PAN_DIGITS)


def _digit_runs(text: str) -> list[str]:
    runs: list[str] = []
    digits: list[str] = []
    separators = 0
    for character in text:
        if character.isdecimal():
            digits.append(str(unicodedata.decimal(character)))
            separators = 0
        elif character in _DIGIT_SEPARATORS and digits and separators < _MAX_SEPARATOR_RUN:
            separators += 1
        else:
            runs.append("".join(digits))
            digits, separators = [], 0
    runs.append("".join(digits))
    return runs


def _has_luhn_window(run: str) -> bool:
    """A card number may be glued to other digits: every window of a possible length."""
    for length in range(MIN_PAN_DIGITS, min(MAX_PAN_DIGITS, len(run)) + 1):
        for start in range(len(run) - length + 1):
            if passes_luhn(run[start : start + length]):
                return True
    return False
