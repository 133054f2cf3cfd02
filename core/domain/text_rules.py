"""What free text from a merchant (a card holder's name, an address, a header) may contain.

Refused: lone surrogates (not Unicode at all: they cannot be stored), C0 and C1 control
characters, bidirectional controls (they make text display as something else than it is),
line and paragraph separators, and text made only of invisible characters. Also refused
anywhere in free text: a card number, which would otherwise be stored and shown in the
clear (PCI DSS 3.4.1). It is recognised as card-data scanners do: a whole run of digits of
any script (superscript, circled, full-width, with combining marks or keycaps), the digits
separated by anything but letters (spaces, punctuation, symbols, brackets, quotes, up to a
few in a row) and invisible characters skipped, that a card brand issues (core/domain/
card_brands.py: an IIN prefix in its ranges, a length it issues) and that passes Luhn. Never
a window cut out of a longer run: a nanosecond timestamp, an invoice reference or a
tracking number holds Luhn-valid stretches of 13 to 19 digits by chance, and none is a
card. At least 13 digits: 12-digit cards are all but gone, while 12-digit phone numbers
are common. A UUID (8-4-4-4-12 hex digits, or 32 without the hyphens, as merchants send
references) is not read as digits: no card number is written that way.
"""

from __future__ import annotations

import re
import unicodedata

from core.domain.card_brands import is_card_number

MIN_PAN_DIGITS_IN_TEXT = 13
_UUID = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}(?:-?[0-9A-Fa-f]{4}){3}-?[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)
# An identifier a merchant sends or is known by (merchantId): letters, digits, - and _.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]*$"
MAX_IDENTIFIER_LENGTH = 64

# Between the digits of a card number people write anything but letters ("4242 4242",
# "4242 -- 4242", "(4242) 4242", "4242|4242"); this many such characters in a row at most.
_MAX_SEPARATOR_RUN = 5
# Nobody writes a card number across a comma or semicolon (of any script): they end a run,
# so "4242 4242 4242 4242, 12 Main Street" is read as the card it holds.
_CLAUSE_BREAKS = frozenset(",;\uff0c\uff1b\u060c\u3001")
# Read past inside a run of digits: combining marks (keycaps, underlines), invisible
# format characters, and letters that render as nothing.
_SKIPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
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
    """Whether a whole run of digits in `text` is a card number: one typed in the wrong
    field."""
    text = _UUID.sub("uuid", text)
    return any(
        len(run) >= MIN_PAN_DIGITS_IN_TEXT and is_card_number(run) for run in _digit_runs(text)
    )


def _digit_runs(text: str) -> list[str]:
    """Runs of digits, joined across short runs of anything but letters and clause breaks."""
    runs: list[str] = []
    digits: list[str] = []
    separators = 0
    for character in text:
        digit = unicodedata.digit(character, None)
        category = unicodedata.category(character)
        if digit is not None:
            digits.append(str(digit))
            separators = 0
        elif category in _SKIPPED_CATEGORIES or character in _BLANK_LETTERS:
            continue
        elif (
            not category.startswith("L")
            and character not in _CLAUSE_BREAKS
            and digits
            and separators < _MAX_SEPARATOR_RUN
        ):
            separators += 1
        else:
            runs.append("".join(digits))
            digits, separators = [], 0
    runs.append("".join(digits))
    return runs
