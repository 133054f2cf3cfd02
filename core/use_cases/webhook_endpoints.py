"""A merchant's webhook endpoints and its payments' event history: register an endpoint
(its signing secret answered once), list, remove, rotate the secret; read a payment's
events with their deliveries. Only the caller's own."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.domain.clock import Clock, epoch_seconds
from core.domain.errors import EndpointBusyError, UnknownEndpointError
from core.domain.ports import PaymentStore
from core.domain.tenancy import ensure_caller_is
from core.domain.webhook_events import ALL_EVENT_TYPES
from core.domain.webhook_urls import InvalidWebhookUrlError
from core.domain.webhooks import (
    ENDPOINT_PREFIX,
    EndpointSecret,
    EndpointStore,
    EventStore,
    SecretVault,
    StoredEvent,
    WebhookEndpoint,
)
from core.use_cases.visible_payments import visible_payment

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
# Rotations of one endpoint at the same moment each save in turn, re-reading in between.
ROTATION_TRIES = 5


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _derived_from(claim_id: str) -> str:
    """An id derived from an Idempotency-Key's claim: every try holding the key derives
    the same one, so a retry after a crash finds what the earlier try saved."""
    return hashlib.sha256(claim_id.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class IssuedSecret:
    endpoint: WebhookEndpoint
    secret: str


@dataclass
class WebhookEndpoints:
    endpoints: EndpointStore
    events: EventStore
    payments: PaymentStore
    vault: SecretVault
    clock: Clock
    # Resolves and checks a URL's host (SSRF); raises InvalidWebhookUrlError.
    check_url: Callable[[str], None]

    def register(
        self,
        caller: str,
        merchant_id: str,
        url: str,
        event_types: tuple[str, ...],
        *,
        claim_id: str | None = None,
    ) -> IssuedSecret:
        """`claim_id`: the Idempotency-Key's claim, from which the endpoint's id is derived,
        so a retry after a crash finds the endpoint the first try added, not a second one."""
        ensure_caller_is(caller, merchant_id)
        unknown = sorted(set(event_types) - set(ALL_EVENT_TYPES))
        if unknown:
            raise InvalidWebhookUrlError(f"unknown event types: {', '.join(unknown)}")
        self.check_url(url)
        now = int(self.clock.now())
        endpoint_id = ENDPOINT_PREFIX + (
            _derived_from(claim_id) if claim_id else uuid.uuid4().hex[:20]
        )
        secret = new_secret()
        ciphertext = self.vault.encrypt(secret, merchant_id=merchant_id, endpoint_id=endpoint_id)
        left = self.endpoints.get(merchant_id, endpoint_id) if claim_id else None
        if left is not None:
            # A try holding the same key added it, then died or could not keep its answer:
            # its secret may or may not have reached the merchant, so it keeps signing for
            # the rotation's grace period beside this answer's, as after a rotation.
            renewed = left.rotated(EndpointSecret(ciphertext, now), now)
            if not self.endpoints.save_secrets(renewed):
                raise EndpointBusyError(f"webhook endpoint {endpoint_id}")
            return IssuedSecret(replace(renewed, revision=renewed.revision + 1), secret)
        endpoint = WebhookEndpoint(
            endpoint_id=endpoint_id,
            merchant_id=merchant_id,
            url=url,
            created_at=now,
            event_types=tuple(dict.fromkeys(event_types)),
            secrets=(EndpointSecret(ciphertext, now),),
        )
        self.endpoints.add(endpoint)
        return IssuedSecret(endpoint, secret)

    def list_of(self, caller: str, merchant_id: str) -> list[WebhookEndpoint]:
        ensure_caller_is(caller, merchant_id)
        return self.endpoints.list(merchant_id)

    def remove(self, caller: str, merchant_id: str, endpoint_id: str) -> WebhookEndpoint:
        ensure_caller_is(caller, merchant_id)
        removed = self.endpoints.remove(merchant_id, endpoint_id)
        if removed is None:
            raise UnknownEndpointError(endpoint_id)
        return removed

    def rotate(
        self, caller: str, merchant_id: str, endpoint_id: str, *, claim_id: str | None = None
    ) -> IssuedSecret:
        """A new secret, answered once; the old one keeps signing for the grace period.
        `claim_id`: the Idempotency-Key's claim, from which the rotation's id is derived, so
        a retry after a crash replaces the secret the first try saved, not rotates again."""
        ensure_caller_is(caller, merchant_id)
        rotation_id = _derived_from(claim_id) if claim_id else None
        secret, ciphertext = None, b""
        for _ in range(ROTATION_TRIES):
            endpoint = self.endpoints.get(merchant_id, endpoint_id)
            if endpoint is None:
                raise UnknownEndpointError(endpoint_id)
            if secret is None:
                secret = new_secret()
                ciphertext = self.vault.encrypt(
                    secret, merchant_id=merchant_id, endpoint_id=endpoint_id
                )
            now = int(self.clock.now())
            rotated = endpoint.rotated(
                EndpointSecret(ciphertext, now, rotation_id=rotation_id), now
            )
            if self.endpoints.save_secrets(rotated):
                return IssuedSecret(replace(rotated, revision=rotated.revision + 1), secret)
        raise EndpointBusyError(f"webhook endpoint {endpoint_id}")

    def events_of(self, caller: str, merchant_id: str, payment_id: str) -> list[StoredEvent]:
        now = epoch_seconds(self.clock)
        visible_payment(self.payments, caller, merchant_id, payment_id, now)
        events = self.events.events_of(payment_id)
        if not any(event.deliveries for event in events):
            return events
        live = {endpoint.endpoint_id for endpoint in self.endpoints.list(merchant_id)}
        return [
            replace(event, deliveries=tuple(d.ended_unless_live(live) for d in event.deliveries))
            for event in events
        ]
