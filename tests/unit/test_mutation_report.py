"""`make mutate` excuses a survivor as equivalent only while its name still means the
mutation that was judged (bench/equivalent_mutants.py)."""

from __future__ import annotations

from bench.mutate import equivalent

NAME = "core.domain.cards.x_passes_luhn__mutmut_14"
JUDGED = """--- core/domain/cards.py
+++ core/domain/cards.py
-            if value > 9:
+            if value >= 9:
"""


def test_a_judged_survivor_is_reported_as_equivalent_with_its_reason() -> None:
    judged = equivalent(NAME, JUDGED)

    assert judged is not None
    assert "never 9" in judged.reason


def test_a_renumbered_mutant_or_an_unknown_one_is_a_survivor_again() -> None:
    renumbered = JUDGED.replace("+            if value >= 9:", "+            if value > 10:")

    assert equivalent(NAME, renumbered) is None
    assert equivalent("core.domain.cards.x_passes_luhn__mutmut_99", JUDGED) is None


DELETING = "core.use_cases.payment_processor.x.PaymentProcessor._note_failure__mutmut_25"
HEADER = """--- core/use_cases/payment_processor.py
+++ core/use_cases/payment_processor.py
"""


def test_a_survivor_that_deletes_a_line_is_judged_by_that_line_alone() -> None:
    deleted = HEADER + "-            max=NOTE_MAX_WAIT_SECONDS,\n"
    changed = deleted + "+            max=None,\n"
    another_deleted = HEADER + "             max=NOTE_MAX_WAIT_SECONDS,\n-            jitter=0,\n"

    assert equivalent(DELETING, deleted) is not None
    assert equivalent(DELETING, changed) is None
    assert equivalent(DELETING, another_deleted) is None
