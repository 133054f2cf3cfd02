"""The small rules every request and job meets, pinned by known answers: a request's
fingerprint (kept with an Idempotency-Key: a change would turn retries into 422s), the
tenancy check's refusal, what the clock reads as today, and the one parser of queued
bodies."""

from __future__ import annotations

import hashlib
import time

import pytest

from core.domain.clock import SystemClock, epoch_seconds, utc_today
from core.domain.errors import (
    MerchantMismatchError,
    TooManyEndpointsError,
    TransitionRejectedError,
)
from core.domain.fingerprints import fingerprint
from core.domain.queued_messages import MAX_QUEUED_BODY_CHARACTERS, queued_json_object
from core.domain.tenancy import ensure_caller_is
from core.domain.webhook_events import WebhookEvent
from core.use_cases.webhook_events import event_body
from tests.support import FakeClock


def test_a_fingerprint_is_the_sha256_of_the_document_in_canonical_json() -> None:
    # Keys sorted, no spaces, non-ASCII escaped (json.dumps' default)
    canonical = '{"a":[1,"\\u00e9"],"b":{"c":null}}'
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    # The same document whatever its key order: the same fingerprint
    assert fingerprint({"b": {"c": None}, "a": [1, "é"]}) == expected
    assert fingerprint({"a": [1, "é"], "b": {"c": None}}) == expected
    assert fingerprint({"a": [1, "é"], "b": {"c": 0}}) != expected


def test_only_the_callers_own_merchant_id_passes() -> None:
    ensure_caller_is("shop-1", "shop-1")
    with pytest.raises(
        MerchantMismatchError, match=r"^merchantId does not match the authenticated merchant$"
    ):
        ensure_caller_is("shop-1", "shop-2")


def test_the_clock_reads_whole_seconds_and_todays_date_in_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A machine whose local time is already tomorrow (UTC+14) still reads UTC's today
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    clock = FakeClock(1_798_761_599.9)  # 2026-12-31 23:59:59.9 UTC
    assert epoch_seconds(clock) == 1_798_761_599
    assert str(utc_today(clock)) == "2026-12-31"
    clock.advance(0.1)
    assert str(utc_today(clock)) == "2027-01-01"
    assert abs(SystemClock().now() - time.time()) < 60
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (None, "a short JSON object"),
        ("x" * (MAX_QUEUED_BODY_CHARACTERS + 1), "a short JSON object"),
        ("{", "not JSON"),
        ("[" * 4000, "not JSON"),  # nested past the parser's depth
        ("[1]", "not a JSON object"),
    ],
)
def test_a_queued_body_that_is_no_short_json_object_is_refused_with_why(
    body: object, why: str
) -> None:
    with pytest.raises(ValueError, match=f"^not a payment job: {why}$"):
        queued_json_object(body, "payment job")


def test_a_short_json_object_is_read_up_to_its_bound() -> None:
    padded = '{"k": "' + "x" * (MAX_QUEUED_BODY_CHARACTERS - 10) + '"}'
    assert len(padded) == MAX_QUEUED_BODY_CHARACTERS - 1
    assert queued_json_object(padded + " ", "job")["k"].startswith("x")


def test_an_error_answers_the_merchant_with_its_reason_in_words() -> None:
    # (handlers/http_errors.py answers failReason from `reason`)
    assert MerchantMismatchError("why").reason == "why"
    assert TooManyEndpointsError(16).reason == (
        "at most 16 webhook endpoints per merchant: remove one first"
    )


def test_a_refused_make_payment_carries_the_payment_as_it_was() -> None:
    refused = TransitionRejectedError(None)
    assert refused.current is None
    assert str(refused) == "payment is not an unexpired Created payment of this merchant"


def test_an_events_body_is_compact_json_with_sorted_keys_fixed_once() -> None:
    # Merchants verify the signature over these exact bytes
    event = WebhookEvent("payment.accepted", 1_800_000_000, "p-1", "shop", 3, {"b": 1, "a": "é"})
    assert event_body(event) == (
        '{"created":1800000000,"data":{"a":"\\u00e9","b":1},"id":"evt_p-1_3",'
        '"merchantId":"shop","paymentId":"p-1","type":"payment.accepted","version":3}'
    )
