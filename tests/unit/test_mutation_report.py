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
