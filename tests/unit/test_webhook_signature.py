"""What a merchant's receiver relies on: `verify_signature` accepts exactly what paygate
signed, with a secret it holds, recently."""

from __future__ import annotations

import time

import pytest

from core.domain.webhook_signature import (
    WebhookSignatureError,
    signature_header,
    verify_signature,
)

NOW = 1_800_000_000
BODY = b'{"id":"evt_p_2","type":"payment.accepted"}'
SECRET = "whsec_current"
OLD = "whsec_previous"


def test_a_delivery_signed_with_the_secret_is_accepted() -> None:
    verify_signature(BODY, signature_header([SECRET], NOW, BODY), [SECRET], now=NOW)


@pytest.mark.parametrize(
    ("body", "secrets", "signed_at", "reason"),
    [
        (BODY.replace(b"accepted", b"declined"), [SECRET], NOW, "no signature matches"),
        (BODY, ["whsec_someone_else"], NOW, "no signature matches"),
        (BODY, [SECRET], NOW - 301, "more than 300"),
        (BODY, [SECRET], NOW + 301, "more than 300"),
    ],
    ids=["tampered body", "wrong secret", "stale timestamp", "future timestamp"],
)
def test_anything_else_is_refused_with_why(
    body: bytes, secrets: list[str], signed_at: int, reason: str
) -> None:
    header = signature_header([SECRET], signed_at, BODY)
    with pytest.raises(WebhookSignatureError, match=reason):
        verify_signature(body, header, secrets, now=NOW)


def test_a_timestamp_altered_after_signing_is_refused() -> None:
    header = signature_header([SECRET], NOW - 1000, BODY).replace(f"t={NOW - 1000}", f"t={NOW}")
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        verify_signature(BODY, header, [SECRET], now=NOW)


@pytest.mark.parametrize("header", ["", "v1=abc", f"t={NOW}", "t=soon,v1=abc", "garbage"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(WebhookSignatureError, match="no timestamp or no v1"):
        verify_signature(BODY, header, [SECRET], now=NOW)


def test_during_a_rotation_either_secret_verifies() -> None:
    header = signature_header([SECRET, OLD], NOW, BODY)
    assert header.count("v1=") == 2
    verify_signature(BODY, header, [OLD], now=NOW)  # a receiver not yet switched over
    verify_signature(BODY, header, [SECRET], now=NOW)  # one switched over
    with pytest.raises(WebhookSignatureError):
        verify_signature(BODY, signature_header([SECRET], NOW, BODY), [OLD], now=NOW)


def test_the_tolerance_is_the_receivers_to_choose() -> None:
    header = signature_header([SECRET], NOW - 30, BODY)
    verify_signature(BODY, header, [SECRET], tolerance_seconds=60, now=NOW)
    with pytest.raises(WebhookSignatureError):
        verify_signature(BODY, header, [SECRET], tolerance_seconds=10, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        f"t={NOW},v1=\u00e9",  # compare_digest refuses non-ASCII text
        "t=\u00b9,v1=" + "0" * 64,  # "¹".isdigit() is True; int("¹") is not
        f"t={NOW},v1=" + "\u0660" * 64,
        f"t={NOW},v1={'0' * 63}",
        f"t={'9' * 5000},v1={'0' * 64}",
    ],
)
def test_a_hostile_header_is_refused_as_unsigned_never_an_other_error(header: str) -> None:
    with pytest.raises(WebhookSignatureError):
        verify_signature(BODY, header, [SECRET], now=NOW)


def test_an_empty_secret_verifies_nothing() -> None:
    # e.g. secrets read as os.environ.get("OLD_SECRETS", "").split(",") == [""]
    forged = signature_header([""], NOW, BODY)
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        verify_signature(BODY, forged, [SECRET, ""], now=NOW)
    with pytest.raises(ValueError, match="non-empty secret"):
        verify_signature(BODY, forged, [""], now=NOW)


def test_one_secret_handed_in_alone_is_a_mistake_not_a_list_of_one_letter_keys() -> None:
    # verify_signature(body, header, os.environ["PAYGATE_SECRET"]): "w" would be a key
    forged = signature_header(["w"], NOW, BODY)
    with pytest.raises(TypeError, match="list of secrets"):
        verify_signature(BODY, forged, SECRET, now=NOW)


@pytest.mark.parametrize("header", [None, b"t=1,v1=00"], ids=["missing", "bytes"])
def test_a_header_that_is_not_text_is_unsigned(header: object) -> None:
    with pytest.raises(WebhookSignatureError):
        verify_signature(BODY, header, [SECRET], now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secrets", "header_as"),
    [([SECRET.encode()], str), ([SECRET], bytes), ([b"", SECRET.encode()], bytes)],
    ids=["bytes secret", "bytes header", "bytes throughout"],
)
def test_secrets_and_the_header_may_be_bytes_as_frameworks_hand_them(
    secrets: list[str | bytes], header_as: type
) -> None:
    # GIVEN the whole secret, whsec_ prefix included, as a receiver may hold it
    header = signature_header([SECRET], NOW, BODY)
    sent = header.encode() if header_as is bytes else header

    # THEN it verifies, and the prefix is part of the key: the bare secret is another key
    verify_signature(BODY, sent, secrets, now=NOW)
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        verify_signature(BODY, header, [SECRET.removeprefix("whsec_").encode()], now=NOW)


@pytest.mark.parametrize(
    "secret", [bytearray(SECRET.encode()), memoryview(SECRET.encode())], ids=type
)
def test_any_bytes_like_secret_verifies(secret: bytearray | memoryview) -> None:
    header = bytearray(signature_header([SECRET], NOW, BODY).encode())
    verify_signature(BODY, header, [secret], now=NOW)


@pytest.mark.parametrize(
    ("secrets", "tolerance", "error"),
    [
        ([42], 300, TypeError),
        (bytearray(SECRET.encode()), 300, TypeError),
        ([SECRET], float("nan"), ValueError),
        ([SECRET], -1, ValueError),
    ],
    ids=["a number as a secret", "one bytearray alone", "NaN tolerance", "negative tolerance"],
)
def test_misuse_is_a_clear_type_or_value_error(
    secrets: object, tolerance: float, error: type[Exception]
) -> None:
    header = signature_header([SECRET], NOW, BODY)
    with pytest.raises(error):
        verify_signature(BODY, header, secrets, tolerance, now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("skew", [-300, 300], ids=["300 s old", "300 s ahead"])
def test_a_delivery_exactly_at_the_tolerance_is_still_accepted(skew: int) -> None:
    header = signature_header([SECRET], NOW - skew, BODY)
    verify_signature(BODY, header, [SECRET], now=NOW)
    with pytest.raises(WebhookSignatureError, match="more than 299"):
        verify_signature(BODY, header, [SECRET], tolerance_seconds=299, now=NOW)


def test_without_now_the_receivers_clock_decides() -> None:
    # GIVEN deliveries signed by the wall clock, now and an hour ago
    signed_now = int(time.time())
    fresh = signature_header([SECRET], signed_now, BODY)
    replayed = signature_header([SECRET], signed_now - 3600, BODY)

    # THEN a receiver calling verify_signature as documented takes only the fresh one
    verify_signature(BODY, fresh, [SECRET])
    with pytest.raises(WebhookSignatureError, match="more than 300"):
        verify_signature(BODY, replayed, [SECRET])


@pytest.mark.parametrize(
    ("secrets", "header", "tolerance", "error"),
    [
        ([SECRET], None, 300, WebhookSignatureError("no Paygate-Signature header")),
        (
            ["whsec_other"],
            signature_header([SECRET], NOW, BODY),
            300,
            WebhookSignatureError("no signature matches any of the secrets"),
        ),
        ([""], "", 300, ValueError("verify_signature needs at least one non-empty secret")),
        (SECRET, "", 300, TypeError("secrets is a list of secrets, not one secret: [secret]")),
        ([42], "", 300, TypeError("a secret is text or bytes, not int")),
        ([SECRET], "", -1, ValueError("tolerance_seconds is a number of seconds, 0 or more")),
        (
            [SECRET],
            "",
            float("inf"),
            ValueError("tolerance_seconds is a number of seconds, 0 or more"),
        ),
    ],
    ids=["no header", "no match", "empty secret", "one secret", "a number", "negative", "inf"],
)
def test_each_refusal_says_why_in_the_words_a_receiver_logs(
    secrets: object, header: str | None, tolerance: float, error: Exception
) -> None:
    with pytest.raises(type(error)) as raised:
        verify_signature(BODY, header, secrets, tolerance, now=NOW)  # type: ignore[arg-type]
    assert str(raised.value) == str(error)


def test_a_zero_tolerance_accepts_a_delivery_signed_this_very_second() -> None:
    header = signature_header([SECRET], NOW, BODY)
    verify_signature(BODY, header, [SECRET], tolerance_seconds=0, now=NOW)
    with pytest.raises(WebhookSignatureError, match="more than 0"):
        verify_signature(BODY, header, [SECRET], tolerance_seconds=0, now=NOW + 1)


def test_a_bytes_header_is_read_as_ascii_so_non_ascii_bytes_are_no_separator() -> None:
    # GIVEN a valid signature behind a UTF-8 no-break space (strip() would drop it as text)
    valid = signature_header([SECRET], NOW, BODY).encode()
    header = valid.replace(b",v1=", b",\xc2\xa0v1=")

    # THEN the header is refused as unsigned, never a decoding error
    with pytest.raises(WebhookSignatureError, match="no timestamp or no v1"):
        verify_signature(BODY, header, [SECRET], now=NOW)
