"""`make simulate [SEEDS=n] [FIRST=s] [JOBS=j]`: run seeds FIRST..FIRST+n-1 (in j
processes), report seeds/s and steps/s, and for a failing seed print it, its trace, and the
command that replays it (the lowest failing seed, when several processes found one).
`make simulate SEED=s [MUTANT=name]`: replay one seed, with its trace."""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext

from tests.simulation.mutants import MUTANTS
from tests.simulation.run import SeedResult, run_seed


def report_failure(result: SeedResult) -> None:
    print(f"seed {result.seed} broke:")
    for line in result.broken:
        print(f"  - {line}")
    print("trace:")
    for line in result.trace:
        print(f"  {line}")
    print(f"replay it exactly: {result.replay_command()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make simulate", description=__doc__)
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--seed", type=int, help="replay this one seed, printing its trace")
    parser.add_argument("--mutant", choices=sorted(MUTANTS))
    parser.add_argument("--jobs", type=int, default=1, help="processes sharing the seeds")
    args = parser.parse_args(argv)
    if args.seed is not None:
        result = run_seed(args.seed, args.mutant)
        if result.ok:
            print("\n".join(result.trace))
            print(f"seed {args.seed}: {result.steps} steps, every invariant held")
            return 0
        report_failure(result)
        return 1
    started = time.perf_counter()
    ranges = _split(args.first, args.seeds, args.jobs)
    with ProcessPoolExecutor(args.jobs) if args.jobs > 1 else nullcontext() as pool:
        runs = (
            pool.map(_run_range, ranges, [args.mutant] * len(ranges))
            if pool
            else [_run_range(ranges[0], args.mutant)]
        )
        outcomes = list(runs)
    steps = sum(steps for steps, _ in outcomes)
    failures = [failure for _, failure in outcomes if failure is not None]
    if failures:
        report_failure(min(failures, key=lambda failure: failure.seed))
        return 1
    seconds = time.perf_counter() - started
    print(
        f"{args.seeds} seeds ({args.first}..{args.first + args.seeds - 1}) clean: "
        f"{steps} steps in {seconds:.1f} s, {args.seeds / seconds:.1f} seeds/s, "
        f"{steps / seconds:.0f} steps/s ({args.jobs} process{'es' if args.jobs > 1 else ''})"
    )
    return 0


def _split(first: int, seeds: int, jobs: int) -> list[range]:
    """`jobs` contiguous ranges covering first..first+seeds-1."""
    bounds = [first + seeds * part // jobs for part in range(jobs + 1)]
    return [range(start, end) for start, end in itertools.pairwise(bounds) if end > start]


def _run_range(seeds: range, mutant: str | None) -> tuple[int, SeedResult | None]:
    """Steps taken, and the first seed of the range that broke (the rest not run)."""
    steps = 0
    for seed in seeds:
        result = run_seed(seed, mutant)
        steps += result.steps
        if not result.ok:
            return steps, result
    return steps, None


if __name__ == "__main__":
    sys.exit(main())
