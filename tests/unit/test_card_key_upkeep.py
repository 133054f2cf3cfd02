"""The worker keeps the card key pairs of today and tomorrow (core/domain/card_keys.py)."""

from __future__ import annotations

import pytest

from core.domain.card_keys import (
    EPOCH_SECONDS,
    KEPT_AFTER_EPOCH_SECONDS,
    UPKEEP_EVERY_SECONDS,
    UPKEEP_RETRY_SECONDS,
    Epoch,
    epoch_of,
    epochs_to_encrypt_with,
)
from core.use_cases.card_key_upkeep import CardKeyUpkeep
from tests.fakes import InMemoryCardKeyring
from tests.support import FakeClock

# 2027-01-15 08:00:00 UTC
MORNING = 1_800_000_000
MIDNIGHT = MORNING - MORNING % EPOCH_SECONDS


def test_epochs_are_utc_days_kept_fifteen_days_past_their_end() -> None:
    assert epoch_of(MORNING) == "2027-01-15"
    assert epoch_of(MIDNIGHT - 1) == "2027-01-14"
    assert epoch_of(MIDNIGHT) == "2027-01-15"
    day_ends = MIDNIGHT + EPOCH_SECONDS
    assert Epoch.at(MORNING) == Epoch("2027-01-15", day_ends + KEPT_AFTER_EPOCH_SECONDS)
    assert Epoch.at(day_ends - 1) == Epoch.at(MIDNIGHT)
    assert KEPT_AFTER_EPOCH_SECONDS == 15 * 86_400


def test_make_payment_encrypts_to_today_then_yesterday_and_never_older() -> None:
    assert epochs_to_encrypt_with(MORNING) == ("2027-01-15", "2027-01-14")
    assert epochs_to_encrypt_with(MIDNIGHT) == ("2027-01-15", "2027-01-14")


def test_the_key_pairs_of_today_and_tomorrow_are_made_once() -> None:
    keyring, clock = InMemoryCardKeyring(), FakeClock(MORNING)
    upkeep = CardKeyUpkeep(keyring, clock)

    assert upkeep.run() == ["2027-01-15", "2027-01-16"]
    assert keyring.expiry == {
        "2027-01-15": Epoch.at(MORNING).expires_at,
        "2027-01-16": Epoch.at(MORNING + EPOCH_SECONDS).expires_at,
    }
    # AND a second instance finds them made
    assert CardKeyUpkeep(keyring, clock).run() == []


def test_an_instance_checks_again_only_every_ten_minutes() -> None:
    keyring, clock = InMemoryCardKeyring(), FakeClock(MORNING)
    upkeep = CardKeyUpkeep(keyring, clock)
    upkeep.run()
    keyring.expiry.clear()

    clock.advance(UPKEEP_EVERY_SECONDS - 1)
    assert upkeep.run() == []
    clock.advance(1)
    assert upkeep.run() == ["2027-01-15", "2027-01-16"]


def test_the_next_day_makes_the_day_after() -> None:
    keyring, clock = InMemoryCardKeyring(), FakeClock(MORNING)
    upkeep = CardKeyUpkeep(keyring, clock)
    upkeep.run()

    clock.advance(EPOCH_SECONDS)

    assert upkeep.run() == ["2027-01-17"]


def test_a_failed_upkeep_is_tried_again_a_minute_later_not_at_once() -> None:
    keyring, clock = InMemoryCardKeyring(), FakeClock(MORNING)
    upkeep = CardKeyUpkeep(keyring, clock)
    keyring.unavailable = True
    with pytest.raises(ConnectionError):
        upkeep.run()

    keyring.unavailable = False

    clock.advance(UPKEEP_RETRY_SECONDS - 1)
    assert upkeep.run() == []
    clock.advance(1)
    assert upkeep.run() == ["2027-01-15", "2027-01-16"]
