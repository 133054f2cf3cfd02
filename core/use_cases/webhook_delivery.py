"""Delivering a webhook: one attempt per due job, signed with every secret the endpoint
has in use; a 2xx is delivered, anything else is tried again later (the retry schedule of
core/domain/webhook_retry.py) until the budget is spent, then the job goes to the DLQ.
Every attempt is recorded. At least once and in no particular order: receivers dedupe on
the event id and order by the payment's version."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.clock import Clock
from core.domain.ports import Metrics
from core.domain.webhook_retry import next_attempt_at
from core.domain.webhook_signature import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from core.domain.webhooks import (
    Attempt,
    DeliveryJob,
    DeliveryQueue,
    DeliveryState,
    EndpointStore,
    EventStore,
    SecretVault,
    WebhookSender,
)

# A job received this early is sent on again rather than delivered before it is due.
EARLY_TOLERANCE_SECONDS = 1.0


@dataclass
class WebhookDelivery:
    events: EventStore
    endpoints: EndpointStore
    vault: SecretVault
    sender: WebhookSender
    deliveries: DeliveryQueue
    clock: Clock
    metrics: Metrics

    def deliver(self, job: DeliveryJob) -> str:
        """What became of the job: a DeliveryState, or why nothing was sent."""
        now = self.clock.now()
        if job.due_at > now + EARLY_TOLERANCE_SECONDS:
            self.deliveries.publish([job], now)
            return "not yet due"
        endpoint = self.endpoints.get(job.merchant_id, job.endpoint_id)
        event, state = self.events.get_for_delivery(job.event_id, job.endpoint_id)
        if endpoint is None or event is None or event.merchant_id != job.merchant_id:
            self.metrics.count("WebhooksDropped")
            return "endpoint or event gone"
        if state == DeliveryState.DELIVERED and not job.replay:
            return "delivered already"
        secrets = [
            self.vault.decrypt(
                secret.ciphertext, merchant_id=job.merchant_id, endpoint_id=job.endpoint_id
            )
            for secret in endpoint.secrets
            if secret.in_use(now)
        ]
        body = event.body.encode()
        headers = {
            SIGNATURE_HEADER: signature_header(secrets, int(now), body),
            EVENT_ID_HEADER: event.event_id,
        }
        attempt = Attempt.of(now, self.sender.send(endpoint.url, body, headers))
        self.metrics.milliseconds("WebhookLatency", attempt.milliseconds)
        if attempt.delivered:
            state = DeliveryState.DELIVERED
            self.events.record_attempt(job.event_id, job.endpoint_id, endpoint.url, attempt, state)
            self.metrics.count("WebhooksDelivered")
            return state
        first = job.first_attempt_at or now
        due = next_attempt_at(job.attempt, now, first)
        state = DeliveryState.RETRYING if due is not None else DeliveryState.FAILED
        self.events.record_attempt(job.event_id, job.endpoint_id, endpoint.url, attempt, state)
        self.metrics.count("WebhookAttemptsFailed")
        if due is None:
            why = attempt.error or f"HTTP {attempt.status}"
            self.deliveries.dead_letter(job, f"{job.attempt} attempts, the last: {why}")
            self.metrics.count("WebhooksDeadLettered")
        else:
            self.deliveries.publish([job.retry_at(due, first)], now)
        return state
