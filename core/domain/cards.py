"""Card numbers: the Luhn rule, masking, and a secret holder that never prints itself."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

MASK_CHARACTER = "*"
VISIBLE_DIGITS = 4
# A card number (PAN) has 12 to 19 digits: what cardNumber accepts, and what is refused
# anywhere else.
MIN_PAN_DIGITS = 12
MAX_PAN_DIGITS = 19
MASKED_LENGTH = 16


def passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_card_number(last_four: str) -> str:
    """`************1543`: the last four digits only, at a fixed width."""
    return MASK_CHARACTER * (MASKED_LENGTH - VISIBLE_DIGITS) + last_four


@dataclass(frozen=True)
class CardSecret:
    """The card data that must never be stored, logged or queued in plain text."""

    pan: str = field(repr=False)
    cvv: str = field(repr=False)

    def __repr__(self) -> str:
        return f"CardSecret(pan={mask_card_number(self.pan[-VISIBLE_DIGITS:])}, cvv=***)"

    __str__ = __repr__

    def to_bytes(self) -> bytes:
        return json.dumps({"pan": self.pan, "cvv": self.cvv}).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CardSecret:
        data = json.loads(raw)
        return cls(pan=str(data["pan"]), cvv=str(data["cvv"]))
