"""When a failed webhook delivery is tried again: exponential back-off with full jitter
from a minute, each wait at most 6 hours, for up to 3 days after the event; then the
delivery goes to the dead-letter queue."""

from __future__ import annotations

import random

FIRST_WAIT_SECONDS = 60
MAX_WAIT_SECONDS = 6 * 3600
RETRY_FOR_SECONDS = 3 * 24 * 3600
# A 2xx within this long is delivered; anything else, or nothing, is retried.
DELIVERY_TIMEOUT_SECONDS = 10
# The fast lane, where every endpoint starts, waits this long for an answer. An endpoint
# that takes longer is marked slow for SLOW_LANE_HOLD_SECONDS, the attempt is tried again at
# once in the slow lane (a queue with few instances of its own) with the whole
# DELIVERY_TIMEOUT_SECONDS, and its deliveries go there until it answers within this again:
# a slow or dead endpoint holds up only the slow lane, never another merchant's webhooks.
FAST_LANE_SECONDS = 3
SLOW_LANE_HOLD_SECONDS = 600
# A fast-lane send not answered within FAST_LANE_PATIENCE_SECONDS keeps waiting (up to
# FAST_LANE_SECONDS) only while it holds one of its merchant's SLOW_SENDS_PER_MERCHANT
# places, shared by every instance; without one it is cut there, as if late. So however many
# slow endpoints one merchant has, its sends hold at most that many fast-lane calls beyond
# the patience: the lane's other instances stay free for every other merchant. The patience
# is about one healthy delivery end to end (bench/webhook_isolation.py: p99 0.5 s alone).
FAST_LANE_PATIENCE_SECONDS = 0.5
SLOW_SENDS_PER_MERCHANT = 2
# A connection not made within this long is given up: a host that drops packets costs this,
# not the whole time-out.
CONNECT_TIMEOUT_SECONDS = 2
# How long registering an endpoint waits for its host to resolve: the route's function has
# 10 s in all (infra/functions.py) and still encrypts the secret and writes after it.
REGISTRATION_RESOLVE_SECONDS = 3


def next_attempt_at(
    attempt: int, failed_at: float, first_attempt_at: float, rng: random.Random | None = None
) -> float | None:
    """When attempt `attempt + 1` is due, after attempt `attempt` failed at `failed_at`; None
    once the retry budget (from the first attempt) is spent."""
    ceiling = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** (attempt - 1))
    wait = FIRST_WAIT_SECONDS / 2 + (rng or random).uniform(0, ceiling - FIRST_WAIT_SECONDS / 2)
    due = failed_at + wait
    return due if due - first_attempt_at <= RETRY_FOR_SECONDS else None
