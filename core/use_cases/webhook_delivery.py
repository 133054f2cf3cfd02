"""Delivering a webhook: one attempt per due job, signed with every secret the endpoint
has in use; a 2xx is delivered, anything else is tried again later (the retry schedule of
core/domain/webhook_retry.py) until the budget is spent, then the job goes to the DLQ.
Every attempt is recorded. At least once and in no particular order: receivers dedupe on
the event id and order by the payment's version.

Two lanes, so a slow or dead endpoint costs only its own merchant: every delivery starts in
the fast lane, which waits FAST_LANE_SECONDS for an answer. An endpoint that does not answer
in time is marked slow, the attempt is tried again at once in the slow lane (a queue with
few instances of its own, each attempt the whole time-out), and while the mark lasts its
jobs met in the fast lane move there unsent. An answer in time in the slow lane lifts the
mark. Before any mark, a merchant's many new slow endpoints could still fill the fast lane
for its whole wait: so a fast-lane send past its patience waits on only in one of its
merchant's few places (`_SlowSendPlace`), and is otherwise cut short there."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from core.domain.clock import Clock
from core.domain.ports import Metrics
from core.domain.webhook_retry import (
    FAST_LANE_SECONDS,
    SLOW_LANE_HOLD_SECONDS,
    next_attempt_at,
)
from core.domain.webhook_signature import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from core.domain.webhooks import (
    ENDPOINT_REMOVED,
    Attempt,
    DeliveryJob,
    DeliveryQueue,
    DeliveryState,
    EndpointStore,
    EventStore,
    SecretVault,
    SendResult,
    WebhookEndpoint,
    WebhookSender,
)
from core.use_cases.endpoint_lists import RecentEndpointLists

# What `deliver` answers when another copy of the job recorded the attempt and has not yet
# said its follow-up is queued: this copy's message is left for SQS to hand over again (not
# deleted), so that if the recorder died there, the job's next delivery queues the follow-up.
LEFT_FOR_REDELIVERY = "left for SQS to deliver again: another copy recorded the attempt"


def settles(outcome: str) -> bool:
    """Whether the job's message is done with once `deliver` answered `outcome`."""
    return outcome != LEFT_FOR_REDELIVERY


# A job received this early is sent on again rather than delivered before it is due.
EARLY_TOLERANCE_SECONDS = 1.0
# How long an instance that marked an endpoint slow moves its jobs on unread: the burst of
# jobs a new slow endpoint's merchant queued costs a queue write each, not three calls; a
# mark another instance lifts is seen after this at the latest.
SEEN_SLOW_SECONDS = 60


@dataclass
class WebhookDelivery:
    events: EventStore
    endpoints: EndpointStore
    vault: SecretVault
    sender: WebhookSender
    deliveries: DeliveryQueue
    clock: Clock
    metrics: Metrics
    # How long this instance sends with an endpoint as read (core/settings.py); 0: read it
    # for every delivery.
    endpoint_read_seconds: float = 0
    # Endpoints this instance marked slow, and until when it moves their jobs on unread.
    _seen_slow: dict[str, float] = field(default_factory=dict)
    _recent: RecentEndpointLists = field(init=False)

    def __post_init__(self) -> None:
        self._recent = RecentEndpointLists(self.endpoints, self.clock, self.endpoint_read_seconds)

    def deliver(self, job: DeliveryJob) -> str:
        """What became of the job: a DeliveryState, or why nothing was sent."""
        now = self.clock.now()
        if job.due_at > now + EARLY_TOLERANCE_SECONDS:
            self.deliveries.publish([job], now)
            return "not yet due"
        if not job.slow and self._seen_slow.get(job.endpoint_id, 0.0) > now:
            return self._to_slow_lane(job, now)
        endpoint = self._recent.endpoint(job.merchant_id, job.endpoint_id)
        event, progress = self.events.get_for_delivery(job.event_id, job.endpoint_id)
        if endpoint is None or event is None or event.merchant_id != job.merchant_id:
            if endpoint is None and progress is not None:
                self.events.end_delivery(job, ENDPOINT_REMOVED)
            self.metrics.count("WebhooksDropped")
            return "endpoint or event gone"
        if progress is not None and progress.is_of(job) and progress.follow_up_pending:
            # This job's attempt was recorded, then the run stopped before what follows it
            # was queued: queue it now, without sending again.
            first = progress.first_attempt_at or now
            self._follow_up(job, progress.next_at, first, "the last is in the event history")
            return "follow-up queued"
        if progress is not None and progress.covers(job):
            return self._repeat()
        if progress is not None and progress.state == DeliveryState.DELIVERED and not job.replay:
            return "delivered already"
        if not job.slow and endpoint.in_slow_lane(now):
            return self._to_slow_lane(job, now)
        secrets = [
            self.vault.decrypt(
                secret.ciphertext, merchant_id=job.merchant_id, endpoint_id=job.endpoint_id
            )
            for secret in endpoint.signing_secrets(now)
        ]
        body = event.body.encode()
        headers = {
            SIGNATURE_HEADER: signature_header(secrets, int(now), body),
            EVENT_ID_HEADER: event.event_id,
        }
        if job.slow:
            sent = self.sender.send(endpoint.url, body, headers, slow_lane=True)
        else:
            place = _SlowSendPlace(self.endpoints, self.clock, self.metrics, job.merchant_id)
            try:
                sent = self.sender.send(endpoint.url, body, headers, keep_waiting=place.hold)
            finally:
                place.free()
        attempt = Attempt.of(now, sent)
        self.metrics.milliseconds("WebhookLatency", attempt.milliseconds)
        if attempt.delivered:
            if not self.events.record_attempt(job, endpoint.url, attempt, DeliveryState.DELIVERED):
                return self._refused(job)
            self._lane_after(endpoint, sent, now)
            self.metrics.count("WebhooksDelivered")
            return DeliveryState.DELIVERED
        self.metrics.count("WebhookAttemptsFailed")
        first = job.first_attempt_at or now
        # Cut short by the fast lane's time: tried again at once, with the whole time-out.
        due = now if sent.timed_out and not job.slow else next_attempt_at(job.attempt, now, first)
        state = DeliveryState.RETRYING if due is not None else DeliveryState.FAILED
        # Recorded first, conditionally, so only one copy of a job SQS handed over twice
        # goes on; its follow-up is pending until queued (a crash in between is finished
        # by the job's next delivery, above).
        if not self.events.record_attempt(
            job, endpoint.url, attempt, state, next_at=due, first_attempt_at=first
        ):
            return self._refused(job)
        slow = self._lane_after(endpoint, sent, now)
        self._follow_up(job, due, first, attempt.error or f"HTTP {attempt.status}", slow=slow)
        return state

    def _to_slow_lane(self, job: DeliveryJob, now: float) -> str:
        """Unsent: the slow lane checks, as every job, whether it is still to be sent."""
        self.deliveries.publish([replace(job, slow=True)], now)
        self.metrics.count("WebhooksToSlowLane")
        return "moved to the slow lane"

    def _lane_after(self, endpoint: WebhookEndpoint, sent: SendResult, now: float) -> bool:
        """Whether the endpoint is in the slow lane after this attempt: marked (again) if it
        did not answer in time; unmarked once it answers within the fast lane's time."""
        if sent.timed_out:
            until = now + SLOW_LANE_HOLD_SECONDS
            self._mark_slow(endpoint, until)
            self._seen_slow[endpoint.endpoint_id] = now + SEEN_SLOW_SECONDS
            self.metrics.count("WebhookEndpointsSlow")
            return True
        if sent.fast_enough:
            self._seen_slow.pop(endpoint.endpoint_id, None)
        if sent.fast_enough and endpoint.slow_until:
            self._mark_slow(endpoint, 0)
            return False
        return endpoint.in_slow_lane(now)

    def _mark_slow(self, endpoint: WebhookEndpoint, until: float) -> None:
        self.endpoints.mark_slow(endpoint.merchant_id, endpoint.endpoint_id, until)
        self._recent.forget(endpoint.merchant_id)

    def _follow_up(
        self,
        job: DeliveryJob,
        due: float | None,
        first: float,
        why: str,
        *,
        slow: bool | None = None,
    ) -> None:
        """The next attempt queued (in the slow lane if `slow`, else the job's), or (the
        budget spent) the job dead-lettered."""
        if due is None:
            self.deliveries.dead_letter(job, f"{job.attempt} attempts, the last: {why}")
            self.metrics.count("WebhooksDeadLettered")
        else:
            lane = job.slow if slow is None else slow
            self.deliveries.publish([job.retry_at(due, first, slow=lane)], self.clock.now())
        self.events.follow_up_queued(job)

    def _refused(self, job: DeliveryJob) -> str:
        """This copy's record was refused: another recorded first. If that one's follow-up is
        still pending it may have died before queuing it, and deleting this message would
        leave nothing to: so the message stays for SQS to hand over again (after the
        visibility time-out, longer than any run), when the follow-up is either queued or
        queued then. Queuing it here instead would start a second series beside a live one."""
        _, progress = self.events.get_for_delivery(job.event_id, job.endpoint_id)
        if progress is not None and progress.is_of(job) and progress.follow_up_pending:
            self.metrics.count("WebhookJobsLeftForRedelivery")
            return LEFT_FOR_REDELIVERY
        return self._repeat()

    def _repeat(self) -> str:
        """Another copy of this job recorded its attempt first: this one ends here."""
        self.metrics.count("WebhookJobRepeats")
        return "a repeat"


# Past a place's hold, a send has ended however it went (with time to record it): a run that
# died holding one frees it this way.
_PLACE_HOLD_SECONDS = FAST_LANE_SECONDS + 2


@dataclass
class _SlowSendPlace:
    """A fast-lane send's claim on one of its merchant's places for slow sends: taken when
    the sender asks (the send is past its patience), freed when the send ends."""

    endpoints: EndpointStore
    clock: Clock
    metrics: Metrics
    merchant_id: str
    _held: tuple[int, float] | None = None
    _ended: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self) -> bool:
        """Whether the send waits on. Asked from the sender's timer, so it may come as the
        send ends: a place is then not taken."""
        with self._lock:
            if self._ended:
                return True
            now = self.clock.now()
            try:
                place = self.endpoints.hold_slow_send(
                    self.merchant_id, now, now + _PLACE_HOLD_SECONDS
                )
            except Exception:
                # The places unknown (a table throttled): waited on, as before there were any.
                self.metrics.count("WebhookSlowSendPlacesUnknown")
                return True
            if place is None:
                self.metrics.count("WebhookSendsCutShort")
                return False
            self._held = (place, now + _PLACE_HOLD_SECONDS)
            return True

    def free(self) -> None:
        with self._lock:
            self._ended = True
            if self._held is None:
                return
            try:
                self.endpoints.free_slow_send(self.merchant_id, *self._held)
            except Exception:
                # Its hold runs out by itself: not worth sending the webhook again for.
                self.metrics.count("WebhookSlowSendPlacesUnfreed")
