"""The card format across a prod rollout (infra/rollouts.py): for 5 minutes the previous
version serves 90% of each function's calls, and an alarm sends the alias back to it. So a
release writes only what the version before it reads: an upgrade from a release that reads
only KMS-encrypted cards and bare digests goes first to card format 1 (this release,
writing those), then to format 2 (docs/deploy.md, Upgrading). The previous release is
played by the adapters it had (KmsCardVault alone; the bare KMS MAC digest)."""

from __future__ import annotations

from typing import Any

from core.adapters.hpke_card_vault import MAGIC
from core.adapters.kms_card_vault import KmsCardVault
from core.bootstrap import Services
from core.domain.submission import DIGEST_FORMAT
from tests.conftest import MERCHANT_A, ApiClient, AwsEnv, make_payment_body
from tests.integration.card_support import PreviousReleaseDigests
from tests.integration.worker_support import event_source, submit
from tests.support import FakeClock


def _release(aws: AwsEnv, clock: FakeClock, card_format: int, **overrides: Any) -> Services:
    settings = aws.settings.replace(card_format=card_format)
    services = Services(settings, aws.clients(settings), clock, overrides=overrides)
    services.card_key_upkeep.run()
    return services


def _previous(aws: AwsEnv, clock: FakeClock) -> Services:
    previous = Services(aws.settings, aws.clients(), clock)
    previous.overrides = {
        "vault": KmsCardVault(previous.clients.kms, aws.settings.card_key_id),
        "request_digests": PreviousReleaseDigests(previous),
    }
    return previous


def test_what_the_upgrades_first_step_writes_the_previous_release_reads(
    aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN this release in card format 1 (its worker has made key pairs all the same)
    new = ApiClient(_release(aws, clock, card_format=1), MERCHANT_A)
    payment_id = submit(new, 1250)
    assert not bytes(aws.raw_item(payment_id)["cardCiphertext"]["B"]).startswith(MAGIC)
    assert not aws.raw_item(payment_id)["requestDigest"]["S"].startswith(DIGEST_FORMAT)

    # WHEN the previous release's make-payment serves the merchant's retry, and its worker
    # the job (its canary, or a rollback)
    previous = _previous(aws, clock)
    retry = ApiClient(previous, MERCHANT_A).post("/make-payment", make_payment_body(payment_id))
    event_source(aws, previous).drain()

    # THEN the retry is the same payment, and the payment is processed
    assert retry.status == 202, retry.body
    assert new.get_payment(payment_id).body["status"] == "Accepted"


def test_the_upgrades_first_step_reads_what_the_second_writes(
    aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN a payment taken in card format 2: its card sealed, its digest v2
    second = ApiClient(_release(aws, clock, card_format=2), MERCHANT_A)
    payment_id = submit(second, 1250)
    assert bytes(aws.raw_item(payment_id)["cardCiphertext"]["B"]).startswith(MAGIC)

    # WHEN format 2 is rolled back to format 1, which serves the retry and the job
    first = _release(aws, clock, card_format=1)
    retry = ApiClient(first, MERCHANT_A).post("/make-payment", make_payment_body(payment_id))
    event_source(aws, first).drain()

    # THEN both go through
    assert retry.status == 202, retry.body
    assert second.get_payment(payment_id).body["status"] == "Accepted"
