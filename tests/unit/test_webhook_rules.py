"""The webhook rules an operator meets: why a message on the deliveries queue is poison (the
reason its dead letter carries), where the bounds of a job's fields lie, what a queued job
looks like, what an endpoint id is, and when an endpoint's slow mark ends."""

from __future__ import annotations

import json

import pytest

from core.domain.webhooks import DeliveryJob, InvalidDeliveryJobError, WebhookEndpoint

ENDPOINT = "we_0123456789abcdef0123"
JOB = DeliveryJob("evt_p_2", ENDPOINT, "ada", 3, 5.0, 1.0, replay=True, chain=7)
FIELDS = {"eventId": "evt_p_2", "endpointId": ENDPOINT, "merchantId": "ada", "attempt": 1}
LARGEST = 10**15


def body(**changes: object) -> str:
    return json.dumps(FIELDS | {"dueAt": 0} | changes)


def reason(raw: str) -> str:
    with pytest.raises(InvalidDeliveryJobError) as refused:
        DeliveryJob.from_body(raw)
    return str(refused.value)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (body(eventId="payment"), "not a delivery job: eventId"),
        (body(endpointId=""), "not a delivery job: endpointId"),
        (body(merchantId=7), "not a delivery job: merchantId"),
        (body(attempt=True), "not a delivery job: attempt"),
        (body(attempt=1.5), "not a delivery job: attempt"),
        (body(dueAt=LARGEST + 1), "not a delivery job: dueAt"),
        (body(firstAttemptAt=float("inf")), "not a delivery job: firstAttemptAt"),
        (body(attempt=0), "not a delivery job: attempt or chain"),
        (body(chain=-1), "not a delivery job: attempt or chain"),
    ],
)
def test_a_poison_message_says_which_field_is_wrong(raw: str, why: str) -> None:
    # WHEN the delivery worker reads it THEN the reason its dead letter carries names it
    assert reason(raw) == why


def test_a_jobs_numbers_are_read_up_to_their_bound_either_way() -> None:
    for due_at in (LARGEST, -LARGEST):
        assert DeliveryJob.from_body(body(dueAt=due_at)).due_at == due_at
    assert reason(body(dueAt=-LARGEST - 1)) == "not a delivery job: dueAt"


def test_a_jobs_ids_are_read_up_to_200_characters() -> None:
    assert DeliveryJob.from_body(body(merchantId="m" * 200)).merchant_id == "m" * 200
    assert reason(body(merchantId="m" * 201)) == "not a delivery job: merchantId"


def test_a_queued_job_is_compact_json_with_every_field() -> None:
    # The body an operator reads in the deliveries' DLQ, and what older workers read back.
    assert JOB.to_body() == (
        '{"eventId":"evt_p_2","endpointId":"we_0123456789abcdef0123","merchantId":"ada",'
        '"attempt":3,"dueAt":5.0,"firstAttemptAt":1.0,"replay":true,"chain":7}'
    )


@pytest.mark.parametrize(
    ("value", "is_id"),
    [
        (ENDPOINT, True),
        ("we_" + "f" * 20, True),
        ("we_" + "0" * 19, False),
        ("we_" + "0" * 21, False),
        ("we_" + "A" * 20, False),
        ("wh_" + "0" * 20, False),
        ("", False),
    ],
)
def test_an_endpoint_id_is_we_and_20_hex_digits(value: str, is_id: bool) -> None:
    assert WebhookEndpoint.is_id(value) is is_id


def test_a_slow_mark_ends_at_its_time() -> None:
    endpoint = WebhookEndpoint(ENDPOINT, "ada", "https://h.example/", 0, slow_until=100.0)

    assert endpoint.in_slow_lane(99.5)
    assert not endpoint.in_slow_lane(100.0)
