"""An adversarial pass over card encryption (core/adapters/hpke_card_vault.py): ciphertexts
moved, damaged or crafted are refused as unreadable (a poison job, no plaintext, no other
kind of error); rotation, clock skew and several worker instances never strand a card;
and no card digit reaches the card keys table, a queue or a log."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from core.adapters.hpke_card_vault import MAGIC, SUITE, binding
from core.bootstrap import Services
from core.domain.card_keys import (
    EPOCH_SECONDS,
    KEPT_AFTER_EPOCH_SECONDS,
    UPKEEP_EVERY_SECONDS,
    epoch_of,
)
from core.domain.cards import CardSecret
from core.domain.errors import UnreadablePaymentError
from core.domain.jobs import PaymentJob
from tests.conftest import MERCHANT_A, MERCHANT_B, ApiClient, AwsEnv
from tests.faults import throttle
from tests.integration.card_support import stored_ciphertext
from tests.integration.worker_support import event_source, submit
from tests.support import (
    SENTINEL_LAST_FOUR,
    SENTINEL_PAN,
    FakeClock,
    card_data_leaks,
)


def _put_ciphertext(aws: AwsEnv, payment_id: str, ciphertext: bytes) -> None:
    aws.dynamodb.update_item(
        TableName=aws.settings.payments_table,
        Key={"paymentId": {"S": payment_id}},
        UpdateExpression="SET cardCiphertext = :c",
        ExpressionAttributeValues={":c": {"B": ciphertext}},
    )


def _instance(aws: AwsEnv, clock: FakeClock) -> Services:
    """A Lambda instance of its own: its own clients and caches."""
    return Services(aws.settings, aws.clients(), clock)


def _header(epoch: bytes) -> bytes:
    return MAGIC + bytes([len(epoch)]) + epoch


def _seal(services: Services, epoch: str, plain: bytes, payment_id: str) -> bytes:
    """What anyone holding the epoch's public key can make: HPKE base mode authenticates
    no sender."""
    public = services.card_keyring.public_key(epoch, now=services.clock.now())
    assert public is not None
    sealed = SUITE.encrypt(plain, public, info=binding(payment_id, MERCHANT_A))
    return _header(epoch.encode()) + sealed


def _delete_key_pair(aws: AwsEnv, epoch: str) -> None:
    aws.dynamodb.delete_item(TableName=aws.settings.card_keys_table, Key={"epoch": {"S": epoch}})


def _card_keys(aws: AwsEnv) -> list[dict[str, Any]]:
    return list(aws.dynamodb.scan(TableName=aws.settings.card_keys_table)["Items"])


def _opens(services: Services, ciphertext: bytes, payment_id: str) -> bool:
    card = services.vault.decrypt(ciphertext, payment_id=payment_id, merchant_id=MERCHANT_A)
    return card.pan == SENTINEL_PAN


# Moved ciphertexts


def test_a_ciphertext_moved_to_another_payment_is_a_poison_job_that_charges_nothing(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN two payments of one merchant, the second's card replaced by the first's
    first, second = submit(api, 1250), submit(api, 1250)
    _put_ciphertext(aws, second, stored_ciphertext(aws, first))
    worker = _instance(aws, clock)

    # WHEN the worker takes the second's job
    with pytest.raises(UnreadablePaymentError):
        worker.processor.process(PaymentJob(second, "c"), deadline=float("inf"))

    # THEN the bank was never asked for it, and the first still opens
    assert worker.simulated_bank.ledger_entry(second) is None
    assert _opens(worker, stored_ciphertext(aws, first), first)


def test_a_ciphertext_does_not_open_for_another_merchant_even_with_the_same_payment_id(
    api: ApiClient, services: Services, aws: AwsEnv
) -> None:
    payment_id = submit(api, 1250)
    ciphertext = stored_ciphertext(aws, payment_id)
    for merchant in (MERCHANT_B, MERCHANT_A + " ", MERCHANT_A.upper()):
        with pytest.raises(UnreadablePaymentError):
            services.vault.decrypt(ciphertext, payment_id=payment_id, merchant_id=merchant)


# Damaged and crafted ciphertexts


def _crafted(services: Services, clock: FakeClock, payment_id: str) -> dict[str, bytes]:
    today = epoch_of(clock.now())
    good = _seal(services, today, CardSecret(SENTINEL_PAN, "123").to_bytes(), payment_id)
    header = _header(today.encode())
    sealed = good[len(header) :]
    tomorrow = epoch_of(clock.now() + EPOCH_SECONDS)
    long_epoch = b"2" * 255
    return {
        "magic alone": MAGIC,
        "magic and a length, no name": MAGIC + b"\x0a",
        "zero epoch length": MAGIC + b"\x00" + today.encode() + sealed,
        "epoch length past the end": MAGIC + b"\xff" + today.encode() + sealed[:8],
        "epoch length 255 over binary": MAGIC + b"\xff" + sealed * 4,
        "255 ASCII characters of epoch": _header(long_epoch) + sealed,
        "non-ASCII epoch": _header("2027-01-1é".encode()) + sealed,
        "epoch not a date": _header(b"not-a-date") + sealed,
        "epoch of a day with no key pair": _header(b"1999-01-01") + sealed,
        "sealed to today, named tomorrow": _header(tomorrow.encode()) + sealed,
        "header only": header,
        "enc truncated": header + sealed[:31],
        "no AEAD tag": header + sealed[:32],
        "tag cut short": good[:-1],
        "enc of the zero point": header + bytes(32) + sealed[32:],
        "enc of a low-order point": header + bytes([1]) + bytes(31) + sealed[32:],
        "a bit flipped in the ciphertext": good[:-20] + bytes([good[-20] ^ 1]) + good[-19:],
        "a byte appended": good + b"\x00",
    }


@pytest.mark.timeout(30)
def test_every_damaged_or_crafted_ciphertext_is_refused_as_unreadable(
    api: ApiClient, services: Services, clock: FakeClock, aws: AwsEnv
) -> None:
    payment_id = submit(api, 1250)
    worker = _instance(aws, clock)
    assert _opens(worker, stored_ciphertext(aws, payment_id), payment_id)

    outcomes = {}
    for name, ciphertext in _crafted(services, clock, payment_id).items():
        try:
            worker.vault.decrypt(ciphertext, payment_id=payment_id, merchant_id=MERCHANT_A)
        except UnreadablePaymentError:
            outcomes[name] = "refused"
        except Exception as error:
            outcomes[name] = type(error).__name__
        else:
            outcomes[name] = "OPENED"
    assert set(outcomes.values()) == {"refused"}, outcomes


def test_a_ciphertext_with_a_damaged_magic_is_refused_as_unreadable(
    api: ApiClient, services: Services, aws: AwsEnv
) -> None:
    payment_id = submit(api, 1250)
    good = stored_ciphertext(aws, payment_id)
    damaged = bytes([good[0] ^ 1]) + good[1:]

    with pytest.raises(UnreadablePaymentError):
        services.vault.decrypt(damaged, payment_id=payment_id, merchant_id=MERCHANT_A)


@pytest.mark.parametrize(
    "plain", [b"not JSON", b'{"pan": "4111111111111111"}', b"[]"], ids=["text", "no cvv", "list"]
)
def test_a_sealed_plaintext_that_is_no_card_is_refused_as_unreadable(
    api: ApiClient, services: Services, clock: FakeClock, plain: bytes
) -> None:
    payment_id = submit(api, 1250)
    crafted = _seal(services, epoch_of(clock.now()), plain, payment_id)

    with pytest.raises(UnreadablePaymentError):
        services.vault.decrypt(crafted, payment_id=payment_id, merchant_id=MERCHANT_A)


def test_a_card_sealed_to_a_key_pair_past_its_retention_is_refused(
    api: ApiClient, aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN a card sealed today, its job lost
    payment_id = submit(api, 1250)
    ciphertext = stored_ciphertext(aws, payment_id)

    # WHEN a worker instance meets it after the key pair's retention (TTL lags)
    clock.advance(EPOCH_SECONDS + KEPT_AFTER_EPOCH_SECONDS + 1)
    worker = _instance(aws, clock)

    # THEN it is refused, as if TTL had removed the key pair
    with pytest.raises(UnreadablePaymentError):
        worker.vault.decrypt(ciphertext, payment_id=payment_id, merchant_id=MERCHANT_A)


def test_a_crafted_epoch_name_never_reaches_the_logs_or_the_payment(
    api: ApiClient,
    aws: AwsEnv,
    services: Services,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a payment whose ciphertext names an epoch that is a card number
    payment_id = submit(api, 1250)
    sealed = stored_ciphertext(aws, payment_id)[len(_header(epoch_of(clock.now()).encode())) :]
    _put_ciphertext(aws, payment_id, _header(SENTINEL_PAN.encode()) + sealed)
    capsys.readouterr()

    # WHEN the worker takes its job
    event_source(aws, _instance(aws, clock)).poll_once()

    # THEN the card number is nowhere in what the worker wrote (the DLQ note, the logs)
    item = aws.raw_item(payment_id)
    del item["cardCiphertext"]
    assert card_data_leaks(capsys.readouterr().out, item) == []


# Rotation and clock skew


def _seconds_to_midnight(clock: FakeClock) -> float:
    now = clock.now()
    return EPOCH_SECONDS - now % EPOCH_SECONDS


def test_payments_either_side_of_midnight_open_in_a_fresh_worker(
    api: ApiClient, aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN make-payment serving a payment a second before midnight, and one just after
    clock.advance(_seconds_to_midnight(clock) - 1)
    before = submit(api, 1250)
    clock.advance(2)
    after = submit(api, 1250)

    # THEN each is sealed to its own day, and a worker started now opens both
    epochs = {stored_ciphertext(aws, p)[len(MAGIC) + 1 :][:10] for p in (before, after)}
    assert len(epochs) == 2
    worker = _instance(aws, clock)
    assert _opens(worker, stored_ciphertext(aws, before), before)
    assert _opens(worker, stored_ciphertext(aws, after), after)


def test_without_todays_key_pair_yesterdays_is_used_and_opens(
    api: ApiClient, aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN tomorrow's key pair lost, and the day passes with no worker run
    _delete_key_pair(aws, epoch_of(clock.now() + EPOCH_SECONDS))
    clock.advance(_seconds_to_midnight(clock) + 60)
    maker = ApiClient(_instance(aws, clock), MERCHANT_A)

    # WHEN a payment is made
    payment_id = submit(maker, 1250)

    # THEN it is sealed to yesterday's key pair, and the worker opens it and makes today's
    ciphertext = stored_ciphertext(aws, payment_id)
    assert ciphertext.startswith(_header(epoch_of(clock.now() - EPOCH_SECONDS).encode()))
    worker = _instance(aws, clock)
    event_source(aws, worker).drain()
    assert maker.get_payment(payment_id).body["status"] == "Accepted"
    assert worker.card_keyring.has(epoch_of(clock.now()))


@pytest.mark.parametrize("skew_days", [-1, 1, 2, 3])
def test_a_make_payment_clock_days_off_still_seals_a_card_the_worker_opens(
    api: ApiClient, aws: AwsEnv, clock: FakeClock, skew_days: int
) -> None:
    # GIVEN make-payment's clock days off the worker's
    skewed = FakeClock(clock.now() + skew_days * EPOCH_SECONDS)
    maker = ApiClient(_instance(aws, skewed), MERCHANT_A)

    # WHEN it serves a payment
    payment_id = submit(maker, 1250)

    # THEN the worker (on the right time) opens the card, whatever it was sealed with
    worker = _instance(aws, clock)
    assert _opens(worker, stored_ciphertext(aws, payment_id), payment_id)


# Several instances


def test_instances_keeping_keys_ahead_at_once_make_one_pair_per_epoch(
    aws: AwsEnv, clock: FakeClock
) -> None:
    # GIVEN a new stack and eight worker instances that all start at once
    instances = [_instance(aws, clock) for _ in range(8)]
    made: list[list[str]] = []
    start = threading.Barrier(len(instances))

    def run(services: Services) -> None:
        start.wait()
        made.append(services.card_key_upkeep.run())

    threads = [threading.Thread(target=run, args=(s,)) for s in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # THEN each epoch was made once, and a card sealed by any instance opens in every other
    epochs = sorted(epoch for names in made for epoch in names)
    today, tomorrow = epoch_of(clock.now()), epoch_of(clock.now() + EPOCH_SECONDS)
    assert epochs == [today, tomorrow]
    assert len(_card_keys(aws)) == 2
    maker = ApiClient(_instance(aws, clock), MERCHANT_A)
    payment_id = submit(maker, 1250)
    for services in instances:
        assert _opens(services, stored_ciphertext(aws, payment_id), payment_id)


def test_a_lost_key_pair_write_is_made_again_later_and_alarms_meanwhile(
    aws: AwsEnv, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a new stack whose first worker run cannot write the key pair
    worker = _instance(aws, clock)
    maker = ApiClient(_instance(aws, clock), MERCHANT_A)
    first = submit(maker, 1250)
    with throttle(worker.clients.dynamodb, "PutItem", table=aws.settings.card_keys_table):
        event_source(aws, worker).drain()

    # THEN the payment went through (KMS sealed it), the failure is counted
    assert maker.get_payment(first).body["status"] == "Accepted"
    assert "CardKeyUpkeepFailures" in capsys.readouterr().out
    # AND an invocation after the next check is due makes the pairs
    clock.advance(UPKEEP_EVERY_SECONDS)
    submit(maker, 1250)
    event_source(aws, worker).drain()
    assert len(_card_keys(aws)) == 2


def test_a_failing_upkeep_is_not_retried_by_every_invocation(aws: AwsEnv, clock: FakeClock) -> None:
    # GIVEN a new stack, and KMS refusing the worker's wraps
    worker = _instance(aws, clock)
    maker = ApiClient(_instance(aws, clock), MERCHANT_A)
    source = event_source(aws, worker)
    with throttle(worker.clients.kms, "Encrypt", times=100) as fault:
        # WHEN the worker is invoked five times within a few seconds
        for _ in range(5):
            submit(maker, 1250)
            source.drain()
            clock.advance(1)

    # THEN it asked KMS to wrap once, not once per invocation
    assert fault.fired == 1


def test_kms_throttled_while_unwrapping_fails_the_jobs_as_transient_then_they_go_through(
    api: ApiClient, aws: AwsEnv, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN payments, and a fresh worker whose first unwraps KMS throttles
    payment_ids = [submit(api, 1250) for _ in range(4)]
    worker = _instance(aws, clock)
    source = event_source(aws, worker)
    capsys.readouterr()
    with throttle(worker.clients.kms, "Decrypt", times=50) as fault:
        source.poll_once()

    # THEN no job was taken for poison, nothing reached the bank
    assert fault.fired >= 1
    output = capsys.readouterr().out
    assert "RecordsDeadLettered" not in output
    assert all(worker.simulated_bank.ledger_entry(p) is None for p in payment_ids)
    # AND once KMS answers, every one goes through
    clock.advance(3600)
    source.drain()
    assert {api.get_payment(p).body["status"] for p in payment_ids} == {"Accepted"}


def _blocking_unwrap(services: Services) -> tuple[threading.Event, threading.Event]:
    """KMS Decrypt on `services`' client waits until released (a slow KMS)."""
    entered, release = threading.Event(), threading.Event()

    def wait(**_: Any) -> None:
        entered.set()
        release.wait(timeout=10)

    services.clients.kms.meta.events.register("provide-client-params.kms.Decrypt", wait)
    return entered, release


def test_a_slow_unwrap_of_one_epoch_does_not_stall_cards_of_an_epoch_already_unwrapped(
    api: ApiClient, aws: AwsEnv, services: Services, clock: FakeClock
) -> None:
    # GIVEN a worker that has today's private key, and a card sealed to tomorrow's
    today = submit(api, 1250)
    worker = _instance(aws, clock)
    assert _opens(worker, stored_ciphertext(aws, today), today)
    tomorrow_card = _seal(
        services,
        epoch_of(clock.now() + EPOCH_SECONDS),
        CardSecret(SENTINEL_PAN, "123").to_bytes(),
        today,
    )
    entered, release = _blocking_unwrap(worker)

    # WHEN one thread waits on KMS for tomorrow's key
    slow = threading.Thread(target=_opens, args=(worker, tomorrow_card, today))
    slow.start()
    assert entered.wait(timeout=10)
    opened: list[bool] = []
    fast = threading.Thread(
        target=lambda: opened.append(_opens(worker, stored_ciphertext(aws, today), today))
    )
    fast.start()
    fast.join(timeout=2)
    opened_meanwhile = list(opened)
    release.set()
    slow.join(timeout=10)
    fast.join(timeout=10)

    # THEN a card of today's epoch opened meanwhile
    assert opened_meanwhile == [True]


# Card data at rest and in flight


def test_no_card_digit_in_the_card_keys_table_queues_or_logs(
    api: ApiClient, aws: AwsEnv, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    payment_ids = [submit(api, amount) for amount in (1, 24, 1250)]
    jobs = aws.queued_bodies()
    event_source(aws, services).drain()

    assert card_data_leaks(_card_keys(aws), jobs, capsys.readouterr().out) == []
    for payment_id in payment_ids:
        assert api.get_payment(payment_id).body["cardNumber"].endswith(SENTINEL_LAST_FOUR)
