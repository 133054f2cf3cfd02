"""The scanner that every test runs over its logs and output must itself catch a leak."""

from __future__ import annotations

import logging

from boto3.dynamodb.types import Binary

from core.domain.cards import CardSecret
from core.observability import logger
from tests.support import SENTINEL_CVV, SENTINEL_PAN, card_data_leaks


def test_the_scanner_finds_a_pan_or_cvv_wherever_it_hides() -> None:
    assert card_data_leaks(f"card {SENTINEL_PAN}")
    assert card_data_leaks("4927 3816 0390 1543")
    assert card_data_leaks("4927-3816-0390-1543")
    assert card_data_leaks({"nested": [{"deeper": {"x": f"cvv={SENTINEL_CVV}"}}]})
    assert card_data_leaks(Binary(SENTINEL_PAN.encode()))
    assert card_data_leaks(f'{{"cvv": "{SENTINEL_CVV}"}}')
    assert not card_data_leaks(
        "************1543", "order 48253x", "2026-11-27 08:25:30", "e02f-4875-8253-2bfe", "0.8253"
    )


def test_a_logged_card_would_be_caught(no_card_data_in_output: logging.Handler) -> None:
    # GIVEN the collector every test has
    collector = no_card_data_in_output

    # WHEN something logs a card (into a record that we then drop again)
    logger.info("oops", extra={"card": SENTINEL_PAN})
    lines = list(collector.lines)  # type: ignore[attr-defined]
    collector.lines.clear()  # type: ignore[attr-defined]

    # THEN the scanner sees it
    assert card_data_leaks(lines)


def test_a_card_secret_never_prints_itself() -> None:
    card = CardSecret(pan=SENTINEL_PAN, cvv=SENTINEL_CVV)

    assert not card_data_leaks(repr(card), str(card), f"{card}")
    assert "1543" in repr(card)
