"""What the deliveries queue holds: a job reads back as written, and anything else, however
malformed, is refused as poison (never another error that would fail its whole batch);
which job is a repeat of one recorded already."""

from __future__ import annotations

import pytest

from core.domain.webhooks import DeliveryJob, DeliveryProgress, InvalidDeliveryJobError

JOB = DeliveryJob("evt_p_2", "we_0123456789abcdef0123", "ada", 3, 5.0, 1.0, replay=True, chain=7)
GOOD = '{"eventId":"evt_p_2","endpointId":"we_x","merchantId":"m","attempt":1,"dueAt":0'


def test_a_job_reads_back_as_written() -> None:
    assert DeliveryJob.from_body(JOB.to_body()) == JOB


def test_a_job_queued_before_chains_existed_is_of_the_first_chain() -> None:
    assert DeliveryJob.from_body(GOOD + "}").chain == 0


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        "null",
        "[" * 100_000,
        GOOD + ',"attempt":1e400}',
        GOOD + ',"attempt":' + "9" * 400 + "}",
        GOOD + ',"attempt":true}',
        GOOD + ',"attempt":0}',
        GOOD + ',"dueAt":NaN}',
        GOOD + ',"dueAt":-Infinity}',
        GOOD + ',"chain":-1}',
        GOOD + ',"chain":1.5}',
        GOOD + ',"eventId":"evt_p_\u00b9"}',
        GOOD + ',"eventId":"payment"}',
        GOOD + ',"merchantId":""}',
        GOOD + ',"endpointId":7}',
        GOOD + ',"firstAttemptAt":"soon"}',
    ],
)
def test_anything_else_is_poison(body: str) -> None:
    with pytest.raises(InvalidDeliveryJobError):
        DeliveryJob.from_body(body)


def test_a_recorded_attempt_covers_its_copies_and_older_chains_not_what_comes_next() -> None:
    recorded = DeliveryProgress("retrying", chain=7, attempt=3)
    job = JOB
    assert recorded.covers(job) and recorded.is_of(job)
    assert recorded.covers(DeliveryJob("evt_p_2", "we_x", "ada", 9, 0.0, chain=6))
    assert not recorded.covers(job.retry_at(10.0, 1.0, slow=False))
    newer = DeliveryJob.replayed("evt_p_2", "we_x", "ada", 1.0, replay=True)
    assert newer.chain == 1000 and not recorded.covers(newer)
