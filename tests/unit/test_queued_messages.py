"""Every kind of job is read off its queue by one rule: one short JSON object, whatever
else arrives (huge, binary, nested thousands deep) refused as poison, never a crash."""

from __future__ import annotations

import json

import pytest

from core.domain.jobs import PaymentJob
from core.domain.queued_messages import MAX_QUEUED_BODY_CHARACTERS, queued_json_object
from core.domain.webhooks import DeliveryJob

_NOT_OBJECTS = {
    "empty": "",
    "not JSON": "not json",
    "a list": "[]",
    "null": "null",
    "nested thousands deep": "[" * 100_000,
    "binary": "\x00\xff\x00",
    "too long": json.dumps({"paymentId": "x" * MAX_QUEUED_BODY_CHARACTERS}),
}


@pytest.mark.parametrize("body", list(_NOT_OBJECTS.values()), ids=list(_NOT_OBJECTS))
def test_payment_and_delivery_jobs_refuse_the_same_bodies(body: str) -> None:
    # GIVEN a body no job of ours can be
    # WHEN each kind of job reads it
    # THEN each refuses it as not one of its own (a ValueError: poison), never crashes
    with pytest.raises(ValueError, match="not a payment job"):
        PaymentJob.from_body(body)
    with pytest.raises(ValueError, match="not a delivery job"):
        DeliveryJob.from_body(body)
    assert PaymentJob.parse(body) is None


def test_a_short_json_object_passes_to_the_fields_check() -> None:
    # GIVEN a JSON object of exactly the longest length a queued body may have
    body = json.dumps({"k": "v" * (MAX_QUEUED_BODY_CHARACTERS - len(json.dumps({"k": ""})))})
    assert len(body) == MAX_QUEUED_BODY_CHARACTERS

    # WHEN it is read THEN it is the object (its fields are each job's to check)
    assert queued_json_object(body, "job") == json.loads(body)


PAYMENT_ID = "27391cce-9bbd-41aa-8c2d-38e1c1a0f2a1"
SHORT_ID = "a payment job's correlationId is a short id"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (
            {"paymentId": PAYMENT_ID, "card": "x"},
            "a payment job holds its paymentId and correlationId only",
        ),
        ({"correlationId": "c"}, "a payment job names its paymentId"),
        ({"paymentId": 7}, "a payment job names its paymentId"),
        ({"paymentId": ""}, "a payment job names its paymentId"),
        ({"paymentId": "p-1"}, "a payment job names a payment id (a UUID)"),
        ({"paymentId": PAYMENT_ID, "correlationId": 7}, SHORT_ID),
        ({"paymentId": PAYMENT_ID, "correlationId": "c" * 129}, SHORT_ID),
    ],
)
def test_a_payment_job_refused_says_why_as_the_dlq_shows_it(
    fields: dict[str, object], why: str
) -> None:
    # THEN the reason an operator reads for a poison letter names what is wrong
    with pytest.raises(ValueError) as refused:
        PaymentJob.from_body(json.dumps(fields))
    assert str(refused.value) == why


def test_a_payment_job_without_a_correlation_id_reads_as_one_with_none_and_round_trips() -> None:
    job = PaymentJob.from_body(json.dumps({"paymentId": PAYMENT_ID}))

    assert job == PaymentJob(PAYMENT_ID, "")
    assert PaymentJob.from_body(PaymentJob(PAYMENT_ID, "reconciler").to_body()) == PaymentJob(
        PAYMENT_ID, "reconciler"
    )
