"""Card numbers in free text are caught; identifiers merchants really send are not."""

from __future__ import annotations

import random
import uuid

import pytest

from core.domain.text_rules import contains_card_number

# Random version-4 UUIDs, reproducibly: the keys merchants are told to send.
_RANDOM = random.Random(8)
UUIDS = [str(uuid.UUID(int=_RANDOM.getrandbits(128), version=4)) for _ in range(20_000)]


def test_no_uuid_a_merchant_sends_as_an_idempotency_key_is_taken_for_a_card() -> None:
    refused = [key for key in UUIDS if contains_card_number(key)]
    refused += [key for key in UUIDS[:2000] if contains_card_number(f"order-{key.upper()}")]

    assert refused == []


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        f"{UUIDS[0]} 4242-4242-4242-4242",
        f"4242424242424242{UUIDS[1]}",
        "ref 42424242-4242-4242",
    ],
)
def test_a_card_number_beside_or_shaped_unlike_a_uuid_is_still_caught(text: str) -> None:
    assert contains_card_number(text)
