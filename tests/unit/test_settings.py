from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError

REQUIRED = {
    "PAYGATE_PAYMENTS_TABLE": "payments",
    "PAYGATE_MERCHANTS_TABLE": "merchants",
    "PAYGATE_BANK_LEDGER_TABLE": "ledger",
    "PAYGATE_BANK_CONTROL_TABLE": "control",
    "PAYGATE_IDEMPOTENCY_TABLE": "idempotency",
    "PAYGATE_JOBS_QUEUE_URL": "https://sqs.example/jobs",
    "PAYGATE_CARD_KEY_ID": "alias/card",
    "PAYGATE_CARD_DIGEST_KEY_ID": "alias/card-digest",
    "PAYGATE_CARD_KEYS_TABLE": "paygate-card-keys",
    "PAYGATE_IDEMPOTENCY_DIGEST_KEY_ID": "alias/idempotency-key-digest",
    "PAYGATE_CURSOR_KEY_ID": "alias/list-cursors",
    "PAYGATE_EVENTS_TABLE": "webhook-events",
    "PAYGATE_WEBHOOK_ENDPOINTS_TABLE": "webhook-endpoints",
    "PAYGATE_DELIVERIES_QUEUE_URL": "http://localhost:4566/000000000000/webhook-deliveries",
    "PAYGATE_DELIVERIES_DLQ_URL": "http://localhost:4566/000000000000/webhook-deliveries-dlq",
    "PAYGATE_SLOW_DELIVERIES_QUEUE_URL": "http://localhost:4566/000000000000/webhook-deliveries-slow",
    "PAYGATE_WEBHOOK_SECRET_KEY_ID": "alias/webhook-secrets",
}


def test_settings_come_from_the_environment_with_defaults_and_round_trip() -> None:
    settings = Settings.from_env(REQUIRED | {"PAYGATE_BANK_TIMEOUT_SECONDS": "0.5", "OTHER": "x"})

    assert settings.payments_table == "payments"
    assert settings.bank_timeout_seconds == 0.5
    assert settings.payment_ttl_seconds == 600
    assert settings.aws_endpoint_url is None
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"PAYGATE_PAYMENTS_TABLE": ""}, "missing settings: PAYGATE_PAYMENTS_TABLE"),
        ({"PAYGATE_BANK_MAX_ATTEMPTS": "many"}, "PAYGATE_BANK_MAX_ATTEMPTS must be a number"),
        ({"PAYGATE_BANK_MAX_ATTEMPTS": "0"}, "PAYGATE_BANK_MAX_ATTEMPTS must be at least 1"),
        ({"PAYGATE_PAYMENT_TTL_SECONDS": "0"}, "PAYGATE_PAYMENT_TTL_SECONDS must be above 0"),
        ({"PAYGATE_RECHECK_CAP_SECONDS": "901"}, "PAYGATE_RECHECK_CAP_SECONDS must be at most"),
        (
            {"PAYGATE_RESOLVE_AFTER_SECONDS": "1200"},
            "PAYGATE_RESOLVE_AFTER_SECONDS must be above PAYGATE_PAYMENT_TTL_SECONDS",
        ),
    ],
)
def test_an_unusable_environment_says_what_is_wrong(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(REQUIRED | changes)


def test_replace_validates_too() -> None:
    settings = Settings.from_env(REQUIRED)

    assert settings.replace(worker_concurrency=1).worker_concurrency == 1
    with pytest.raises(SettingsError):
        settings.replace(worker_concurrency=65)


@pytest.mark.parametrize(
    ("variable", "field", "default", "bad"),
    [
        ("PAYGATE_IN_FLIGHT_SHARDS", "in_flight_shards", 64, ("0", "1001", "x")),
        ("PAYGATE_MERCHANT_BUCKETS", "merchant_buckets", 32, ("0", "257", "1.5")),
        ("PAYGATE_RECONCILE_CONCURRENCY", "reconcile_concurrency", 16, ("0", "65", "")),
    ],
)
def test_the_spread_and_concurrency_settings_have_sized_defaults_and_bounds(
    variable: str, field: str, default: int, bad: tuple[str, ...]
) -> None:
    assert getattr(Settings.from_env(REQUIRED), field) == default
    assert getattr(Settings.from_env(REQUIRED | {variable: "7"}), field) == 7
    for value in bad:
        if value:
            with pytest.raises(SettingsError, match=variable):
                Settings.from_env(REQUIRED | {variable: value})
        else:
            assert getattr(Settings.from_env(REQUIRED | {variable: value}), field) == default


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_a_number_setting_must_be_finite(value: str) -> None:
    with pytest.raises(SettingsError, match="must be a number"):
        Settings.from_env(REQUIRED | {"PAYGATE_BANK_TIMEOUT_SECONDS": value})
