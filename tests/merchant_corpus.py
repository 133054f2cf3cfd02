"""What legitimate merchants send in identifiers and free text, and the published test cards
of every major brand written the ways people write them: the corpora every guard that
refuses input is measured against. Reproducible (seeded)."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable

from core.domain.cards import passes_luhn

# 2020-01-01 .. 2030-01-01, epoch seconds.
_EPOCHS = (1_577_836_800, 1_893_456_000)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_NANOID = string.ascii_letters + string.digits + "_-"
# The first group of Amazon order numbers, by marketplace (.com, .co.uk, .de, .fr, .jp, ...).
_AMAZON_MARKETPLACES = (
    *("111", "112", "113", "114", "026", "028", "171", "202", "203", "204"),
    *("249", "250", "302", "303", "304", "305", "306", "402", "403", "404"),
    *("405", "406", "407", "408", "701", "702", "D01"),
)


def _epoch(rng: random.Random) -> int:
    return rng.randrange(*_EPOCHS)


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _timestamps(rng: random.Random) -> str:
    seconds = _epoch(rng)
    unit = rng.choice([1, 1_000, 1_000_000, 1_000_000_000])
    stamp = seconds * unit + rng.randrange(unit)
    prefix = rng.choice(["", "acc-", "wl-", "evt_", "req-", "order-", "pay_", "tx-", "idem:"])
    suffix = rng.choice(["", f"-{rng.randrange(1, 10_000)}", f"_{rng.randrange(100)}", "-retry"])
    return f"{prefix}{stamp}{suffix}"


def _invoices(rng: random.Random) -> str:
    day = f"{rng.randrange(2020, 2031)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    return rng.choice(
        [
            f"inv_{day}{_digits(rng, rng.randrange(4, 10))}",
            f"INV-{day[:4]}-{rng.randrange(1, 10**6):06d}",
            f"{day}-{_digits(rng, 6)}",
            f"F{day}{_digits(rng, 8)}",
            f"invoice {rng.randrange(1, 10**7)}",
        ]
    )


def _orders(rng: random.Random) -> str:
    return rng.choice(
        [
            f"ORD-{rng.randrange(10**5, 10**10)}",
            f"{rng.choice(_AMAZON_MARKETPLACES)}-{_digits(rng, 7)}-{_digits(rng, 7)}",
            f"503-{_digits(rng, 7)}-{_digits(rng, 7)}",
            f"{rng.randrange(1, 29):02d}.{rng.randrange(1, 13):02d}.2026 "
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
            f"#{rng.randrange(1000, 10**6)}",
            f"{rng.randrange(10, 100)}-{_digits(rng, 5)}-{_digits(rng, 5)}",
            f"SO{_digits(rng, 8)}",
            f"cart_{rng.randrange(10**12, 10**13)}",
            f"PO {rng.randrange(10**6, 10**9)}",
        ]
    )


def _uuids(rng: random.Random) -> str:
    value = uuid.UUID(int=rng.getrandbits(128), version=rng.choice([1, 4]))
    return rng.choice([str(value), str(value).upper(), value.hex, f"order-{value}"])


def _ulids_and_snowflakes(rng: random.Random) -> str:
    millis = _epoch(rng) * 1000
    ulid = "".join(rng.choice(_CROCKFORD) for _ in range(16))
    snowflake = ((millis - 1_288_834_974_657) << 22) | rng.getrandbits(22)
    nanoid = "".join(rng.choice(_NANOID) for _ in range(21))
    return rng.choice([f"01{ulid}{rng.randrange(10**6):06d}"[:26], str(snowflake), nanoid])


def _phones(rng: random.Random) -> str:
    return rng.choice(
        [
            f"+1 ({rng.randrange(201, 990)}) {rng.randrange(200, 1000)}-{_digits(rng, 4)}",
            f"+44 20 {_digits(rng, 4)} {_digits(rng, 4)}",
            f"+44 7{_digits(rng, 3)} {_digits(rng, 6)}",
            f"+49 15{rng.randrange(1, 8)} {_digits(rng, 8)}",
            f"+49 30 {_digits(rng, 8)}",
            f"+33 6 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}",
            f"+34 6{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
            f"+39 3{_digits(rng, 2)} {_digits(rng, 7)}",
            f"+81 90-{_digits(rng, 4)}-{_digits(rng, 4)}",
            f"+86 13{_digits(rng, 1)} {_digits(rng, 4)} {_digits(rng, 4)}",
            f"+91 9{_digits(rng, 4)} {_digits(rng, 5)}",
            f"+55 11 9{_digits(rng, 4)}-{_digits(rng, 4)}",
            f"+61 4{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
            f"+62 812-{_digits(rng, 4)}-{_digits(rng, 4)}",
            f"+52 1 55 {_digits(rng, 4)} {_digits(rng, 4)}",
            f"+2348{_digits(rng, 9)}",
            f"+39 02 {_digits(rng, 8)}-{_digits(rng, 3)}",
            f"+34 9{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)} - {_digits(rng, 4)}",
            f"+49 (0)6151 {_digits(rng, 7)}-{_digits(rng, 2)}",
            f"+55 11 9{_digits(rng, 4)}-{_digits(rng, 4)} - {_digits(rng, 3)}",
            f"+52 55 {_digits(rng, 4)} {_digits(rng, 4)} / {_digits(rng, 4)}",
            f"Tel/Fax +39 02 {_digits(rng, 7)} / {_digits(rng, 7)}",
            f"+1 {rng.randrange(201, 990)} {rng.randrange(200, 1000)} {_digits(rng, 4)} "
            f"#{rng.randrange(100, 9999)}",
            f"00{rng.randrange(1, 999)}{_digits(rng, 10)}",
        ]
    )


def _postcodes(rng: random.Random) -> str:
    letter = rng.choice(string.ascii_uppercase)
    return rng.choice(
        [
            f"{letter}{rng.randrange(1, 20)} {rng.randrange(1, 10)}{letter}{letter}",
            f"{_digits(rng, 5)}-{_digits(rng, 4)}",
            f"{_digits(rng, 5)}",
            f"{_digits(rng, 4)} {letter}{letter}",
            f"{_digits(rng, 3)}-{_digits(rng, 4)}",
            f"{_digits(rng, 5)}-{_digits(rng, 3)}",
            f"{_digits(rng, 6)}",
            f"{letter}{rng.randrange(10)}{letter} {rng.randrange(10)}{letter}{rng.randrange(10)}",
        ]
    )


def _tracking_numbers(rng: random.Random) -> str:
    usps = f"94{_digits(rng, 20)}"
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
    return rng.choice(
        [
            f"1Z{''.join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))}",
            f"7{_digits(rng, 11)}",
            f"96{_digits(rng, 20)}",
            usps,
            " ".join(usps[i : i + 4] for i in range(0, len(usps), 4)),
            _digits(rng, 10),
            f"{letters}{_digits(rng, 9)}GB",
            f"JJD01{_digits(rng, 16)}",
        ]
    )


def _addresses(rng: random.Random) -> str:
    number = rng.randrange(1, 400)
    return rng.choice(
        [
            f"{number} Market Street, Suite {rng.randrange(100, 2000)}, San Francisco, CA "
            f"{_postcodes(rng)}",
            f"Flat {rng.randrange(1, 90)}, {number} Analytical Row, London {_postcodes(rng)}",
            f"Hauptstraße {number}, {_digits(rng, 5)} Berlin, Tel {_phones(rng)}",
            f"{number} rue de Rivoli, 750{rng.randrange(1, 21):02d} Paris",
            f"PO Box {rng.randrange(1, 10**6)}, {_postcodes(rng)}",
            f"〒{_digits(rng, 3)}-{_digits(rng, 4)} 東京都千代田区{number}-{rng.randrange(1, 30)}",
            f"{number} Orchard Road #{rng.randrange(1, 40):02d}-{rng.randrange(1, 99):02d}, "
            f"Singapore {_digits(rng, 6)}",
            f"Order {_orders(rng)}, parcel {_tracking_numbers(rng)}",
        ]
    )


def _ibans(rng: random.Random) -> str:
    """IBANs with valid check digits (ISO 13616: mod 97), compact or in groups of 4."""
    country, length = rng.choice([("DK", 14), ("FI", 14), ("CH", 17), ("AT", 16), ("BE", 12)])
    bban = _digits(rng, length)
    numeric = "".join(str(int(c, 36)) for c in bban + country) + "00"
    iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return iban if rng.random() < 0.5 else " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


CORPUS_KINDS: dict[str, Callable[[random.Random], str]] = {
    "timestamps (s/ms/us/ns, prefixed)": _timestamps,
    "invoice references": _invoices,
    "order numbers": _orders,
    "UUIDs": _uuids,
    "ULIDs, snowflakes, nanoids": _ulids_and_snowflakes,
    "phone numbers": _phones,
    "postcodes": _postcodes,
    "parcel tracking numbers": _tracking_numbers,
    "addresses": _addresses,
    "IBANs": _ibans,
}


def legitimate_corpus(per_kind: int = 1_500, seed: int = 24) -> dict[str, list[str]]:
    """`per_kind` realistic values of each kind merchants send."""
    rng = random.Random(seed)
    return {kind: [make(rng) for _ in range(per_kind)] for kind, make in CORPUS_KINDS.items()}


# Test card numbers the brands and the big processors publish.
PUBLISHED_TEST_CARDS = {
    "Visa": ["4242424242424242", "4111111111111111", "4000056655665556", "4012888888881881"],
    "Visa (19 digits)": ["4000000000000000006"],
    "Mastercard": ["5555555555554444", "5105105105105100", "5200828282828210"],
    "Mastercard (2-series)": ["2223003122003222", "2221000000000009"],
    "American Express": ["378282246310005", "371449635398431", "340000000000009"],
    "Discover": ["6011111111111117", "6011000990139424", "6445644564456445"],
    "Diners Club": ["3056930009020004", "36227206271667", "38520000023237"],
    "JCB": ["3566002020360505", "3530111333300000"],
    "UnionPay": ["6200000000000005", "6205500000000000004", "6250941006528599"],
    "Maestro": ["6759649826438453", "5018000000000009", "6304000000000000"],
    "Mir": ["2200000000000004", "2201382000000013"],
    "Elo": ["5066991111111118", "6362970000457013"],
    "Hipercard": ["6062825624254001"],
}


_FULL_WIDTH_ZERO = 0xFF10


def _full_width(digits: str) -> str:
    return "".join(chr(_FULL_WIDTH_ZERO + int(digit)) for digit in digits)


def _grouped(pan: str, separator: str) -> str:
    groups = [pan[:4], pan[4:10], pan[10:]] if len(pan) == 15 else []
    groups = groups or [pan[i : i + 4] for i in range(0, len(pan), 4)]
    return separator.join(groups)


WRITINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda pan: pan,
    "spaces": lambda pan: _grouped(pan, " "),
    "dashes": lambda pan: _grouped(pan, "-"),
    "dots": lambda pan: _grouped(pan, "."),
    "inside words": lambda pan: f"card{pan}please",
    "in a sentence": lambda pan: f"my card is {_grouped(pan, ' ')}, exp 12/30",
    "full-width digits": _full_width,
    "full-width, spaced": lambda pan: _grouped(_full_width(pan), "\u3000"),
    "mixed separators": lambda pan: "".join(
        digit + ("- ."[index % 3] if index % 4 == 3 else "") for index, digit in enumerate(pan)
    ).rstrip("- ."),
    "mixed scripts": lambda pan: "".join(
        _full_width(digit) if index % 2 else digit for index, digit in enumerate(pan)
    ),
    "with its expiry": lambda pan: f"{_grouped(pan, ' ')} 12/30",
    "with its CVV": lambda pan: f"{_grouped(pan, ' ')} 123",
    "piped with expiry and CVV": lambda pan: f"{pan}|12/30|123",
    "dashed with expiry and CVV": lambda pan: f"{_grouped(pan, ' ')} - 12/30 - 123",
    "after a flat number": lambda pan: f"Apt 5 {_grouped(pan, ' ')}",
    "after a postcode": lambda pan: f"Berlin 10115 {pan}",
    "with cents": lambda pan: f"#1 {pan}.00",
    "in two halves": lambda pan: f"{pan[:8]} {pan[8:]}",
}


def written_test_cards() -> list[tuple[str, str, str]]:
    """(brand, writing, text) for every published test card written every way."""
    for brand, pans in PUBLISHED_TEST_CARDS.items():
        for pan in pans:
            assert passes_luhn(pan), (brand, pan)
    return [
        (brand, writing, write(pan))
        for brand, pans in PUBLISHED_TEST_CARDS.items()
        for pan in pans
        for writing, write in WRITINGS.items()
    ]
