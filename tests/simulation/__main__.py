"""`make simulate [SEEDS=n] [FIRST=s]`: run seeds FIRST..FIRST+n-1, report seeds/s and
steps/s, and for a failing seed print it, its trace, and the command that replays it.
`make simulate SEED=s [MUTANT=name]`: replay one seed, with its trace."""

from __future__ import annotations

import argparse
import sys
import time

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
    args = parser.parse_args(argv)
    if args.seed is not None:
        result = run_seed(args.seed, args.mutant)
        if result.ok:
            print("\n".join(result.trace))
            print(f"seed {args.seed}: {result.steps} steps, every invariant held")
            return 0
        report_failure(result)
        return 1
    started, steps = time.perf_counter(), 0
    for seed in range(args.first, args.first + args.seeds):
        result = run_seed(seed, args.mutant)
        steps += result.steps
        if not result.ok:
            report_failure(result)
            return 1
    seconds = time.perf_counter() - started
    print(
        f"{args.seeds} seeds ({args.first}..{args.first + args.seeds - 1}) clean: "
        f"{steps} steps in {seconds:.1f} s, {args.seeds / seconds:.0f} seeds/s, "
        f"{steps / seconds:.0f} steps/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
