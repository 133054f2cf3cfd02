"""How fast the deterministic simulation runs (tests/simulation/): seeds and steps a second
over a fixed range of seeds, the figure that sizes `make test`'s 500 seeds and a long
`make simulate SEEDS=100000`."""

from __future__ import annotations

import time
from typing import Any

from tests.simulation.run import run_seed

SEEDS = 300


def measure(seeds: int = SEEDS) -> dict[str, Any]:
    started, steps, broken = time.perf_counter(), 0, 0
    for seed in range(seeds):
        result = run_seed(seed)
        steps += result.steps
        broken += not result.ok
    seconds = time.perf_counter() - started
    return {
        "seeds": seeds,
        "steps": steps,
        "seconds": round(seconds, 2),
        "seeds_per_second": round(seeds / seconds, 1),
        "steps_per_second": round(steps / seconds),
        "broken_seeds": broken,
        "make_test_seconds_for_500": round(500 * seconds / seeds, 1),
    }
