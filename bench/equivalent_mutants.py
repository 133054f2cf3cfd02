"""Surviving mutants judged equivalent: the mutated code behaves as the original for every
input, so no test can tell them apart. Each is keyed by mutmut's name (its ǁ written as .)
with a fragment of its mutated line (of the line it deletes, `deleted`, for a mutant that only
deletes one): if the code changes and the name comes to mean another mutant, the fragment no
longer matches and `make mutate` reports that one as a survivor."""

from __future__ import annotations

from typing import NamedTuple


class Equivalent(NamedTuple):
    mutated_line: str
    reason: str
    deleted: bool = False


_CODEC_ALIAS = "codec names are case-insensitive aliases of the same codec"
_LETTERS = "the placeholder is letters either way, and a letter ends a run of digits alike"
_EPOCH = "updated_at is a real time (seconds since 1970), so a 0 or a 1 never wins max()"
_AT_IMPORT = (
    "not equivalent but out of mutmut's reach: the brand table is built once at import, "
    "before a mutant is switched on; applied by hand, each is killed by "
    "test_a_brand_reads_exactly_the_lengths_it_issues"
)
_SHORT = "it only adds or drops candidates of 11 digits or fewer, or a group already yielded alone"
_FIRST_LETTER = (
    "list() matches every letter it holds before it cuts the matches to its limit, and show "
    "reads only the first match: the same letter (or none) for a limit of 1, 2, 100 or None"
)
_UNREACHABLE_REFUND = (
    "the message of a check no input reaches: apply_change returns the payment as written "
    "by asks_refund (the refund added) or as found holding the refund, never one without it"
)

_COUNT_CHANGED = (
    "a read compares the count of forgettings for equality only, and it moves one way: any "
    "step tells the read the merchant was forgotten meanwhile"
)

EQUIVALENT_MUTANTS: dict[str, Equivalent] = {
    "core.domain.card_brands.x__lengths__mutmut_1": Equivalent("frozenset(None)", _AT_IMPORT),
    "core.domain.card_brands.x__lengths__mutmut_2": Equivalent("range(None, high + 1)", _AT_IMPORT),
    "core.domain.card_brands.x__lengths__mutmut_3": Equivalent("range(low, None)", _AT_IMPORT),
    "core.domain.card_brands.x__lengths__mutmut_4": Equivalent(
        "frozenset(range(high + 1))", _AT_IMPORT
    ),
    "core.domain.card_brands.x__lengths__mutmut_5": Equivalent("range(low, )", _AT_IMPORT),
    "core.domain.card_brands.x__lengths__mutmut_6": Equivalent("range(low, high - 1)", _AT_IMPORT),
    "core.domain.card_brands.x__lengths__mutmut_7": Equivalent("range(low, high + 2)", _AT_IMPORT),
    "core.domain.payment_view.x.PaymentView.to_json__mutmut_2": Equivalent(
        "isinstance(value, Enum)) and False",
        "the view's only Enum is PaymentStatus, a StrEnum: it equals, and serializes as, its value",
    ),
    "core.domain.cards.x_passes_luhn__mutmut_14": Equivalent(
        "if value >= 9:", "a doubled digit is even (0..18), never 9"
    ),
    "core.domain.cards.x_passes_luhn__mutmut_20": Equivalent(
        "total -= value", "a sum is a multiple of 10 exactly when its negation is"
    ),
    "core.domain.submission.x.RequestDigests.digested__mutmut_42": Equivalent(
        'encode("UTF-8")', _CODEC_ALIAS
    ),
    "core.use_cases.card_key_upkeep.x.CardKeyUpkeep.__init____mutmut_6": Equivalent(
        'float("-INF")', 'float() reads "-INF" as minus infinity too'
    ),
    "core.use_cases.endpoint_lists.x.RecentEndpointLists.of__mutmut_16": Equivalent(
        "self.fresh_seconds >= 0",
        "with 0 s a list is kept already expired, and let go at once as the front past its "
        "time: every call reads the store either way",
    ),
    "core.use_cases.endpoint_lists.x.RecentEndpointLists._keep__mutmut_13": Equivalent(
        "popitem(last=None)", "None is false: the oldest goes first, as with False"
    ),
    "core.use_cases.endpoint_lists.x.RecentEndpointLists.forget__mutmut_2": Equivalent(
        "self._forgotten -= 1", _COUNT_CHANGED
    ),
    "core.use_cases.endpoint_lists.x.RecentEndpointLists.forget__mutmut_3": Equivalent(
        "self._forgotten += 2", _COUNT_CHANGED
    ),
    "core.domain.webhook_signature.x_verify_signature__mutmut_16": Equivalent(
        'float("INF")', 'float() reads "INF" as infinity too'
    ),
    "core.domain.webhook_signature.x_verify_signature__mutmut_27": Equivalent(
        'decode("ASCII"', _CODEC_ALIAS
    ),
    "core.domain.webhook_signature.x_verify_signature__mutmut_41": Equivalent(
        'rpartition("=")',
        'a part with two "=" fails either way: its name or its value then holds a "=", which '
        "neither t, v1, the timestamp nor a hex digest can",
    ),
    "core.domain.text_rules.x_contains_card_number__mutmut_9": Equivalent('"XXibanXX"', _LETTERS),
    "core.domain.text_rules.x_contains_card_number__mutmut_10": Equivalent('"IBAN"', _LETTERS),
    "core.domain.text_rules.x_contains_card_number__mutmut_17": Equivalent('"XXuuidXX"', _LETTERS),
    "core.domain.text_rules.x_contains_card_number__mutmut_18": Equivalent('"UUID"', _LETTERS),
    "core.domain.text_rules.x_contains_card_number__mutmut_21": Equivalent(
        "len(candidate) > MIN_PAN_DIGITS_IN_TEXT",
        "no brand issues 13-digit cards (card_brands.py: 14 at least), so is_card_number "
        "refuses every 13-digit candidate anyway",
    ),
    "core.domain.text_rules.x__digit_runs__mutmut_3": Equivalent(
        "between: list[str] = None",
        "until the first digit or separator, None and [] are both falsy and never appended to",
    ),
    "core.domain.text_rules.x__digit_runs__mutmut_48": Equivalent(
        "between = None",
        "after a run ends, between is only tested for truth (None and [] alike) until a digit "
        "resets it",
    ),
    "core.domain.text_rules.x__digit_runs__mutmut_15": Equivalent(
        "if between or not digits and run.groups:",
        "a separator is only kept after a group (run.groups non-empty, digits flushed), and a "
        "run's end leaves no groups: between is non-empty exactly when the full test holds",
    ),
    "core.domain.text_rules.x__digit_runs__mutmut_19": Equivalent(
        '"XXXX".join(between)',
        "separators hold no letters, so joining with XXXX tells the same separators apart",
    ),
    "core.domain.text_rules.x._DigitRun.written_cards__mutmut_4": Equivalent(
        "while start <= len(groups):", "the extra pass, start == len(groups), yields nothing"
    ),
    "core.domain.text_rules.x._DigitRun.written_cards__mutmut_13": Equivalent(
        "if end + start >= 2:", _SHORT
    ),
    "core.domain.text_rules.x._DigitRun.written_cards__mutmut_14": Equivalent(
        "if end - start > 2:", _SHORT
    ),
    "core.domain.text_rules.x._DigitRun.written_cards__mutmut_15": Equivalent(
        "if end - start >= 3:", _SHORT
    ),
    "core.domain.text_rules.x._DigitRun.written_cards__mutmut_20": Equivalent(
        "len(groups[end]) <= 4:", "groups[end] stopped the run of 4s, so it is never 4 long"
    ),
    "core.domain.text_rules.x._DigitRun.written_cards__mutmut_21": Equivalent(
        "len(groups[end]) < 5:", "groups[end] stopped the run of 4s, so it is never 4 long"
    ),
    "core.domain.text_rules.x._DigitRun.written_cards__mutmut_56": Equivalent(
        "range(len(groups) + 2)", "the extra windows hold fewer than 3 groups: no layout"
    ),
    "core.domain.merchants.x_generate_api_key__mutmut_2": Equivalent(
        "token_urlsafe(None)",
        "secrets.token_urlsafe(None) draws secrets.DEFAULT_ENTROPY bytes, 32, as API_KEY_BYTES",
    ),
    "core.use_cases.payment_processor.x.PaymentProcessor._move_money__mutmut_14": Equivalent(
        "(failed is None) or True",
        "only a settlement can fail before the refunds, and a payment with a settlement "
        "(Authorized) has no refunds (only an Accepted one does)",
    ),
    "core.domain.ports.x.JobPublisher.publish__mutmut_1": Equivalent(
        "delay_seconds: int = 1)",
        "the port's body never runs: each queue (SqsJobPublisher, InMemoryJobQueue) is called "
        "with its own default, 0",
    ),
    "core.domain.ports.x.Metrics.count__mutmut_1": Equivalent(
        "value: float = 2)",
        "the port's body never runs: each recorder (PowertoolsMetrics, CountingMetrics) is "
        "called with its own default, 1",
    ),
    "core.domain.webhooks.x.WebhookSender.send__mutmut_1": Equivalent(
        "slow_lane: bool = True,",
        "the port's body never runs: each sender (HttpWebhookSender, FakeWebhookSender) is "
        "called with its own default, False",
    ),
    "core.use_cases.webhook_endpoints.x_new_secret__mutmut_2": Equivalent(
        "token_urlsafe(None)", "secrets.token_urlsafe(None) draws secrets.DEFAULT_ENTROPY bytes, 32"
    ),
    "core.use_cases.webhook_endpoints.x.WebhookEndpoints.rotate__mutmut_10": Equivalent(
        'b"XXXX"',
        "the first pass of the loop either raises (no endpoint) or sets the ciphertext before "
        "it is read, so its initial value is never read",
    ),
    "core.use_cases.webhook_endpoints.x.WebhookEndpoints.register__mutmut_32": Equivalent(
        "if (claim_id) or True else None",
        "without a claim the id is 80 fresh random bits (uuid4): the extra read finds no "
        "endpoint, and the same endpoint is added (it differs only if 80 random bits collide)",
    ),
    "core.use_cases.webhook_delivery.x.WebhookDelivery.deliver__mutmut_16": Equivalent(
        "get(job.endpoint_id, 1.0)",
        "now is the clock's epoch seconds, so an endpoint this instance never marked (0.0 or "
        "1.0) is never seen slow past now",
    ),
    "core.use_cases.webhook_delivery.x.WebhookDelivery.deliver__mutmut_37": Equivalent(
        "if endpoint is None or progress is not None:",
        "alike to every reader, not in its writes: with the endpoint there, it also ends the "
        "delivery when the event is gone (the job names its event's own merchant): its item "
        "expired by TTL (from its creation) before the delivery's (from its first attempt). "
        "Nobody reads that delivery again: events_of lists deliveries under their event only, "
        "and every later job of the event is dropped here before its progress is read",
    ),
    "core.use_cases.webhook_delivery.x._SlowSendPlace.hold__mutmut_1": Equivalent(
        "return False",
        "_ended is set only once the send has returned, and an answer then is acted on by "
        "nobody: HttpWebhookSender's late timer cuts a connection it already closed",
    ),
    "core.domain.payment.x.Payment.asks_capture__mutmut_4": Equivalent(
        "if self.details else 1",
        "a payment without details is Created (make-payment adds them), and _check_settleable "
        "refuses every status but Authorized before `authorized` is compared",
    ),
    "core.domain.payment.x.Payment.with_settlement_done__mutmut_30": Equivalent(
        "None if (capture) and False else done.void_reason",
        "a capture's settlement carries no void reason (asks_capture never sets one), so a "
        "capture reads void_reason None either way",
    ),
    "core.use_cases.payment_operations.x.PaymentOperations.refund__mutmut_43": Equivalent(
        "AssertionError(None)", _UNREACHABLE_REFUND
    ),
    "core.use_cases.payment_operations.x.PaymentOperations.refund__mutmut_44": Equivalent(
        "XXthe refund just written is on the paymentXX", _UNREACHABLE_REFUND
    ),
    "core.use_cases.payment_operations.x.PaymentOperations.refund__mutmut_45": Equivalent(
        "THE REFUND JUST WRITTEN IS ON THE PAYMENT", _UNREACHABLE_REFUND
    ),
    "core.domain.webhook_events.x_event_of_write__mutmut_10": Equivalent(
        "(event_type is None) or True",
        "a refund is answered only on an Accepted payment, which is final: no write both "
        "reaches a status and answers a refund, so the refund answered is None whenever "
        "event_type is set",
    ),
    "core.domain.polling.x_poll_after_seconds__mutmut_11": Equivalent(
        "waited = max(1, now - payment.updated_at)",
        "a wait of 0 and of 1 both halve to 0, which max(MIN_POLL_SECONDS, ...) lifts to 1",
    ),
    "core.domain.reconcile_policy.x_last_seen__mutmut_4": Equivalent("else 1", _EPOCH),
    "core.domain.reconcile_policy.x_last_seen__mutmut_12": Equivalent("reconciled_at or 1", _EPOCH),
    "core.use_cases.reconciler.x._InOrder.submit__mutmut_4": Equivalent(
        "fn(*args, ))", "Executor.map, its only caller, never passes keyword arguments"
    ),
    "core.use_cases.reconciler.x._InOrder.submit__mutmut_5": Equivalent(
        "set_exception(None)",
        "unreachable: the functions the reconciler submits (_isolated, _note_progress) catch "
        "every Exception themselves",
    ),
    "core.domain.dead_letters.x.DeadLetters.show__mutmut_2": Equivalent(
        "self.list(limit=None,", _FIRST_LETTER
    ),
    "core.domain.dead_letters.x.DeadLetters.show__mutmut_4": Equivalent(
        "self.list(only=LetterFilter(message_id=message_id))", _FIRST_LETTER
    ),
    "core.domain.dead_letters.x.DeadLetters.show__mutmut_6": Equivalent(
        "self.list(limit=2,", _FIRST_LETTER
    ),
    "core.use_cases.payment_listing.x.PaymentListing.list_payments__mutmut_23": Equivalent(
        "created_from=query.created_from or 1,",
        "created_at is a real time (seconds since 1970): no payment is created at second 0, so "
        "a window from 0 and one from 1 hold the same payments",
    ),
    "core.use_cases.rollout_check.x_verdict_of__mutmut_20": Equivalent(
        'get("stalled", 1)',
        "with no stalled count, errors >= 0 and errors >= 1 agree for every integer but 0, "
        "which `errors and` already lets pass",
    ),
    "core.use_cases.payment_processor.x.PaymentProcessor._with_retries__mutmut_8": Equivalent(
        "if (state.outcome) or True else None",
        "tenacity calls before_sleep only after an attempt failed, so the outcome is always set",
    ),
    "core.use_cases.payment_processor.x.PaymentProcessor._note_failure__mutmut_25": Equivalent(
        "max=NOTE_MAX_WAIT_SECONDS",
        "NOTE_ATTEMPTS (5) allows 4 waits, the longest 0.05 * 2**3 plus a jitter of at most "
        "0.05: 0.45 s, so the cap of 0.5 s (tenacity's default: 60 s) is never reached",
        deleted=True,
    ),
    "core.use_cases.payment_processor.x.PaymentProcessor.resolve__mutmut_7": Equivalent(
        "deadline, log), None, log)",
        "_record uses the job only to queue a Pending re-check, and settling never ends Pending: "
        "void_unless_decided gives a final outcome or None (Failed)",
    ),
}
