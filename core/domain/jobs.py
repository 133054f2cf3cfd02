"""A payment job: what goes on the jobs queue. It names the payment and the request's
correlation id, and never carries card data (the worker reads the encrypted card from the
payment)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from core.domain.queued_messages import queued_json_object

# What our jobs hold: a payment id (a UUID) and a request id (a UUID, or "reconciler").
_PAYMENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9_-]{0,128}$")


@dataclass(frozen=True)
class PaymentJob:
    payment_id: str
    correlation_id: str

    def to_body(self) -> str:
        return json.dumps({"paymentId": self.payment_id, "correlationId": self.correlation_id})

    @classmethod
    def from_body(cls, body: str) -> PaymentJob:
        """Parse a job; ValueError for anything that is not one, whatever the body (huge,
        binary, nested thousands deep)."""
        data = queued_json_object(body, "payment job")
        if not set(data) <= {"paymentId", "correlationId"}:
            raise ValueError("a payment job holds its paymentId and correlationId only")
        payment_id, correlation_id = data.get("paymentId"), data.get("correlationId", "")
        if not isinstance(payment_id, str) or not payment_id:
            raise ValueError("a payment job names its paymentId")
        if not _PAYMENT_ID.match(payment_id):
            raise ValueError("a payment job names a payment id (a UUID)")
        if not isinstance(correlation_id, str) or not _CORRELATION_ID.match(correlation_id):
            raise ValueError("a payment job's correlationId is a short id")
        return cls(payment_id=payment_id, correlation_id=correlation_id)

    @classmethod
    def parse(cls, body: str) -> PaymentJob | None:
        """The job a body holds, or None if it holds none."""
        try:
            return cls.from_body(body)
        except ValueError:
            return None
