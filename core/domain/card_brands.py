"""Which digit strings are card numbers: issued by a brand (an IIN prefix in its ranges and
a length it issues) and passing Luhn. What a card-data scanner looks for in free text.

The ranges follow the brands' published IIN tables. Visa's 13-digit cards are left out:
Visa stopped issuing them decades ago, and a 13-digit run starting with 4 is far more often
a phone number written without its plus (+49 151 12345678) than a card. UATP (prefix 1,
15 digits) is left out too: airline-only, and every epoch timestamp starts with 1. Maestro
is read at the 16 to 19 digits it issues today, Mir at its 16, Diners Club's 300-305 at 14
or 16 (a 17-digit Amazon.de order number starts with 30x).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.cards import passes_luhn


@dataclass(frozen=True)
class CardBrand:
    name: str
    # IIN prefixes: "4", or an inclusive range of prefixes of one length, "2221-2720".
    prefixes: tuple[str, ...]
    lengths: frozenset[int]

    def issued(self, digits: str) -> bool:
        if len(digits) not in self.lengths:
            return False
        for prefix in self.prefixes:
            low, _, high = prefix.partition("-")
            if low <= digits[: len(low)] <= (high or low):
                return True
        return False


def _lengths(low: int, high: int) -> frozenset[int]:
    return frozenset(range(low, high + 1))


CARD_BRANDS = (
    CardBrand("Visa", ("4",), frozenset({16, 19})),
    CardBrand("Mastercard", ("51-55", "2221-2720"), frozenset({16})),
    CardBrand("American Express", ("34", "37"), frozenset({15})),
    CardBrand("Discover", ("6011", "644-649", "65", "622126-622925"), _lengths(16, 19)),
    CardBrand("Diners Club Carte Blanche", ("300-305",), frozenset({14, 16})),
    CardBrand("Diners Club", ("36", "38-39"), _lengths(14, 19)),
    CardBrand("JCB", ("3528-3589",), _lengths(16, 19)),
    CardBrand("UnionPay", ("62", "8100-8171"), _lengths(16, 19)),
    CardBrand(
        "Maestro", ("5018", "5020", "5038", "5893", "6304", "6759", "6761-6763"), _lengths(16, 19)
    ),
    CardBrand("Mir", ("2200-2204",), frozenset({16})),
    CardBrand("RuPay", ("60", "65", "81-82", "508", "353", "356"), frozenset({16})),
    CardBrand("Verve", ("506099-506198", "650002-650027"), frozenset({16, 18, 19})),
    CardBrand("Troy", ("9792",), frozenset({16})),
    CardBrand("Dankort", ("5019",), frozenset({16})),
    CardBrand(
        "Elo",
        (
            *("4011", "4312", "4389", "4514", "4576", "5041", "5066-5067"),
            *("509", "6277", "6362-6363", "650", "6516", "6550"),
        ),
        frozenset({16}),
    ),
    CardBrand("Hipercard", ("606282", "3841"), frozenset({16, 19})),
)


def brand_of(digits: str) -> CardBrand | None:
    """The brand that issues card numbers like `digits` (ASCII digits), or None."""
    return next((brand for brand in CARD_BRANDS if brand.issued(digits)), None)


def is_card_number(digits: str) -> bool:
    """Whether `digits` (ASCII digits) is a number a brand issues and passes Luhn."""
    return brand_of(digits) is not None and passes_luhn(digits)
