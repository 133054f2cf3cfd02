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
references) and an IBAN whose check digits hold are not read as digits: no card number is
written that way. Which digits count as written as a card: `_DigitRun.written_cards`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.domain.card_brands import is_card_number

MIN_PAN_DIGITS_IN_TEXT = 13
_UUID = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}(?:-?[0-9A-Fa-f]{4}){3}-?[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)
# An IBAN, compact or in groups of 4 (ISO 13616), read as one only if its check digits hold.
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
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
# Group lengths of the card layouts that are not groups of 4: American Express (4-6-5) and
# Diners Club (4-6-4).
_CARD_LAYOUTS = frozenset({(4, 6, 5), (4, 6, 4)})
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


def _is_iban(text: str) -> bool:
    compact = text.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(character, 36)) for character in rearranged)) % 97 == 1


def contains_card_number(text: str) -> bool:
    """Whether `text` holds a card number written the ways people write one: typed into
    the wrong field."""
    text = _IBAN.sub(lambda found: "iban" if _is_iban(found.group()) else found.group(), text)
    text = _UUID.sub("uuid", text)
    return any(
        len(candidate) >= MIN_PAN_DIGITS_IN_TEXT and is_card_number(candidate)
        for run in _digit_runs(text)
        for candidate in run.written_cards()
    )


# Any run of 12 or more digits, separated by at most two spaces, hyphens or dots.
_LONG_DIGIT_RUNS = re.compile(r"\d(?:[\s\-.]{0,2}\d){11,}")


def may_hold_card_number(text: str) -> bool:
    """The cautious reading, for text we only show (a dead letter's body to ops), never
    refuse: a card as `contains_card_number` finds one, or any long run of digits. Showing
    less of a timestamp costs nothing, while a card shown in the clear cannot be taken
    back; refusing a merchant's request for one would (so requests use the exact rule)."""
    return bool(_LONG_DIGIT_RUNS.search(text)) or contains_card_number(text)


@dataclass
class _DigitRun:
    """Groups of digits with what stands between each two (short runs of anything but
    letters and clause breaks)."""

    groups: list[str] = field(default_factory=list)
    separators: list[str] = field(default_factory=list)

    def written_cards(self) -> Iterator[str]:
        """What in the run is written as a card is: a whole group (never part of one);
        consecutive groups of 4 (all of them, with or without one shorter group after: a
        card may be followed by its expiry or CVV, and a tracking number in groups of 4 is
        longer than any card), and the first four of five or more when the fifth reads as an
        expiry (MMYY), or each four of exactly eight (two cards); 4-6-5 or 4-6-4 (American
        Express, Diners Club); and the whole run when written with one separator throughout
        in groups of 4 or more (8-8, 4-4-4-4). Never digits joined across a phone number's
        parts and extension."""
        groups = self.groups
        yield from groups
        start = 0
        while start < len(groups):
            end = start
            while end < len(groups) and len(groups[end]) == 4:
                end += 1
            if end - start >= 2:
                yield "".join(groups[start:end])
                if end < len(groups) and len(groups[end]) < 4:
                    yield "".join(groups[start : end + 1])
            if end - start > 4 and _reads_as_expiry(groups[start + 4]):
                # A card and its expiry written the same way (4242 … 4242 0127).
                yield "".join(groups[start : start + 4])
            if end - start == 8:
                # Two cards in a row.
                yield "".join(groups[start : start + 4])
                yield "".join(groups[start + 4 : end])
            start = max(end, start + 1)
        for first in range(len(groups) - 2):
            if tuple(len(group) for group in groups[first : first + 3]) in _CARD_LAYOUTS:
                yield "".join(groups[first : first + 3])
        if (
            len(groups) >= 2
            and len(set(self.separators)) == 1
            and all(len(group) >= 4 for group in groups)
        ):
            yield "".join(groups)


def _reads_as_expiry(group: str) -> bool:
    """MMYY: a month, then a year."""
    return 1 <= int(group[:2]) <= 12


def _digit_runs(text: str) -> list[_DigitRun]:
    """Runs of digit groups, joined across short runs of anything but letters and clause
    breaks."""
    runs = [_DigitRun()]
    digits: list[str] = []
    between: list[str] = []
    for character in text:
        digit = unicodedata.digit(character, None)
        category = unicodedata.category(character)
        run = runs[-1]
        if digit is not None:
            if between and not digits and run.groups:
                run.separators.append("".join(between))
            between = []
            digits.append(str(digit))
        elif category in _SKIPPED_CATEGORIES or character in _BLANK_LETTERS:
            continue
        elif (
            not category.startswith("L")
            and character not in _CLAUSE_BREAKS
            and (digits or between)
            and len(between) < _MAX_SEPARATOR_RUN
            and (digits or run.groups)
        ):
            if digits:
                run.groups.append("".join(digits))
                digits = []
            between.append(character)
        else:
            if digits:
                run.groups.append("".join(digits))
                digits = []
            between = []
            if run.groups:
                runs.append(_DigitRun())
    if digits:
        runs[-1].groups.append("".join(digits))
    return [run for run in runs if run.groups]
