"""The deterministic simulation (tests/simulation/): 500 seeds hold every invariant it
checks, a seed replays exactly, a failing seed says how to replay it, and each mutant (a
deliberately broken paygate) is caught by the seed named here."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from tests.simulation.__main__ import main
from tests.simulation.mutants import MUTANTS
from tests.simulation.run import SeedResult, run_seed

SEEDS = 500
ROOT = Path(__file__).resolve().parents[2]
# The first seed that catches each mutant (each below SEEDS, so `make test`'s run would).
CAUGHT_BY = {
    "unconditional-write": (19, "Accepted v4 -> Accepted v3"),
    "reconciler-skips-a-shard": (6, "is still Processing at quiescence"),
    "card-kept-after-final": (0, "is Accepted and still holds its card"),
    "bank-call-without-idempotency-key": (0, "is Accepted but the bank says nothing"),
    # The event never made: its delivery never comes.
    "event-dropped-on-a-crash": (1, "not delivered to"),
    "refund-without-refundable-check": (46, "refunds of 2500 on a capture of 1250"),
}


def _described(result: SeedResult) -> str:
    return "\n".join([*result.broken, *result.trace[-40:], result.replay_command()])


def test_every_invariant_holds_for_500_seeds() -> None:
    for seed in range(SEEDS):
        result = run_seed(seed)
        assert result.ok, _described(result)


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_a_seed_replays_exactly(seed: int) -> None:
    first, again = run_seed(seed), run_seed(seed)

    assert first.steps > 30  # a run with real work in it
    assert first.trace == again.trace


def test_different_seeds_take_different_paths() -> None:
    assert run_seed(1).trace != run_seed(2).trace


def test_every_mutant_has_a_seed_that_catches_it() -> None:
    assert set(CAUGHT_BY) == set(MUTANTS)


@pytest.mark.parametrize("mutant", sorted(CAUGHT_BY))
def test_the_simulator_catches_each_mutant_at_its_seed(mutant: str) -> None:
    seed, broken = CAUGHT_BY[mutant]
    assert seed < SEEDS

    result = run_seed(seed, mutant)

    assert any(broken in line for line in result.broken), result.broken
    assert run_seed(seed).ok  # the same seed, unbroken paygate: clean


def test_a_failing_seed_prints_its_trace_and_the_command_that_replays_it() -> None:
    seed, _ = CAUGHT_BY["reconciler-skips-a-shard"]
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--seed", str(seed), "--mutant", "reconciler-skips-a-shard"])

    printed = out.getvalue()
    assert code == 1
    assert f"seed {seed} broke:" in printed
    assert run_seed(seed, "reconciler-skips-a-shard").trace[-1] in printed
    assert printed.rstrip().endswith(
        f"replay it exactly: make simulate SEED={seed} MUTANT=reconciler-skips-a-shard"
    )


def test_the_replay_command_replays_the_seed_in_a_new_process() -> None:
    # Another process, other string hashes: the same steps all the same.
    seed = 17
    replayed = subprocess.run(
        [sys.executable, "-m", "tests.simulation", "--seed", str(seed)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"PYTHONHASHSEED": "12345"},
        cwd=ROOT,
    )

    assert replayed.stdout.splitlines()[:-1] == run_seed(seed).trace


def test_seeds_shared_among_processes_report_the_lowest_failing_seed() -> None:
    seed, _ = CAUGHT_BY["event-dropped-on-a-crash"]
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--seeds", "8", "--jobs", "2", "--mutant", "event-dropped-on-a-crash"])

    assert code == 1
    assert f"seed {seed} broke:" in out.getvalue()
