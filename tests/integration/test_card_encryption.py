"""Card data encrypted to the day's key pair (core/adapters/hpke_card_vault.py): no KMS
request per payment, bound to its payment and merchant, readable by the worker after the
keys rotate, and KMS itself whenever no key pair is found."""

from __future__ import annotations

from collections import Counter

import pytest
from botocore.exceptions import ClientError

from core.adapters.hpke_card_vault import MAGIC
from core.bootstrap import Services
from core.domain.card_keys import EPOCH_SECONDS, KEPT_AFTER_EPOCH_SECONDS, epoch_of
from core.domain.errors import UnreadablePaymentError
from tests.conftest import MERCHANT_A, MERCHANT_B, ApiClient, AwsEnv
from tests.integration.card_support import kms_calls, stored_ciphertext
from tests.integration.worker_support import event_source, submit
from tests.support import SENTINEL_LAST_FOUR, FakeClock, card_data_leaks


def _worker(aws: AwsEnv, clock: FakeClock) -> Services:
    """A worker instance of its own (its own caches), as another Lambda instance."""
    return Services(aws.settings, aws.clients(), clock)


def test_a_card_is_encrypted_to_the_days_key_pair_with_no_kms_request(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN make-payment has served one payment (its instance read the day's public key)
    submit(api, 1250)
    kms = kms_calls(services)

    # WHEN it serves more
    payment_ids = [submit(api, 1250) for _ in range(3)]

    # THEN none asked KMS, and each card is sealed to today's key pair, no digit in clear
    assert kms == Counter()
    for payment_id in payment_ids:
        ciphertext = stored_ciphertext(aws, payment_id)
        epoch = epoch_of(clock.now()).encode()
        assert ciphertext.startswith(MAGIC + bytes([len(epoch)]) + epoch)
        assert card_data_leaks(aws.raw_item(payment_id)) == []
    # AND the worker (another instance) decrypts each with one KMS request in all
    worker = _worker(aws, clock)
    unwraps = kms_calls(worker)
    event_source(aws, worker).drain()
    assert unwraps == Counter({"Decrypt": 1})
    assert {api.get_payment(p).body["status"] for p in payment_ids} == {"Accepted"}


def test_a_sealed_card_opens_only_for_its_own_payment_and_merchant(
    api: ApiClient, aws: AwsEnv, services: Services
) -> None:
    first, second = submit(api, 1250), submit(api, 1250)
    ciphertext = stored_ciphertext(aws, first)

    card = services.vault.decrypt(ciphertext, payment_id=first, merchant_id=MERCHANT_A)
    assert card.pan.endswith(SENTINEL_LAST_FOUR)
    for payment_id, merchant_id in ((second, MERCHANT_A), (first, MERCHANT_B)):
        with pytest.raises(UnreadablePaymentError):
            services.vault.decrypt(ciphertext, payment_id=payment_id, merchant_id=merchant_id)
    # AND a damaged one is refused as such, never half-read
    for damaged in (MAGIC, MAGIC + b"\x0a2027", ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])):
        with pytest.raises(UnreadablePaymentError):
            services.vault.decrypt(damaged, payment_id=first, merchant_id=MERCHANT_A)


def test_cards_sealed_before_a_rotation_still_open_after_it(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a payment submitted today, its job lost
    before = submit(api, 1250)
    aws.discard_jobs()
    today = epoch_of(clock.now())

    # WHEN days pass: new key pairs every day, payments sealed to them
    clock.advance(5 * EPOCH_SECONDS)
    services.card_key_upkeep.run()
    after = submit(api, 1250)

    # THEN the new payment is sealed to the new day's key pair
    assert epoch_of(clock.now()) != today
    assert stored_ciphertext(aws, after)[len(MAGIC) + 1 :].startswith(
        epoch_of(clock.now()).encode()
    )
    # AND a worker instance started now still opens the old card (its key pair is kept)
    worker = _worker(aws, clock)
    old = worker.vault.decrypt(
        stored_ciphertext(aws, before), payment_id=before, merchant_id=MERCHANT_A
    )
    assert old.pan.endswith(SENTINEL_LAST_FOUR)
    item = aws.dynamodb.get_item(
        TableName=aws.settings.card_keys_table, Key={"epoch": {"S": today}}
    )["Item"]
    assert int(item["expiresAt"]["N"]) >= clock.now() - 5 * EPOCH_SECONDS + KEPT_AFTER_EPOCH_SECONDS


def test_the_kept_private_key_unwraps_only_as_its_own_epoch(
    aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    today = epoch_of(clock.now())
    item = aws.dynamodb.get_item(
        TableName=aws.settings.card_keys_table, Key={"epoch": {"S": today}}
    )["Item"]
    wrapped = item["wrappedPrivateKey"]["B"]

    with pytest.raises(ClientError) as refused:
        aws.kms.decrypt(
            CiphertextBlob=wrapped,
            KeyId=aws.settings.card_key_id,
            EncryptionContext={"cardKeyEpoch": epoch_of(clock.now() + EPOCH_SECONDS)},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidCiphertextException"
    assert services.card_keyring.private_key(today, now=clock.now()) is not None


def test_without_a_key_pair_kms_encrypts_the_card_and_the_worker_still_reads_it(
    aws: AwsEnv, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a new stack: no key pair made yet
    services = Services(aws.settings, aws.clients(), clock)
    api = ApiClient(services, MERCHANT_A)
    kms = kms_calls(services)

    # WHEN a payment is made
    payment_id = submit(api, 1250)

    # THEN KMS encrypted its card (bound to the payment), and it was counted
    assert kms["Encrypt"] == 1
    assert not stored_ciphertext(aws, payment_id).startswith(MAGIC)
    assert "CardsEncryptedByKms" in capsys.readouterr().out
    # AND the worker reads it, and makes the key pairs for the payments after it
    event_source(aws, services).drain()
    assert api.get_payment(payment_id).body["status"] == "Accepted"
    assert services.card_keyring.has(epoch_of(clock.now()))
    assert services.card_keyring.has(epoch_of(clock.now() + EPOCH_SECONDS))
    clock.advance(60)
    assert stored_ciphertext(aws, submit(api, 1250)).startswith(MAGIC)
