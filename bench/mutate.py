"""`make mutate [MODULE=core/domain/payment.py]`: mutation testing of the fast tier (tests/unit
and tests/contract) over core/domain and core/use_cases, or one module. Prints the score of
each module and every surviving mutant's diff: each is either killed by a new test or
judged equivalent (the code behaves the same with it).

mutmut runs in its own venv (.venv-mutate, made on first use) so that requirements/*.lock
stay as they are: it holds mutmut alone and reads every other package from .venv. It works
on a copy of the tree under build/mutate/, so nothing it writes lands in the working tree,
and its configuration is written here, one place, for the modules asked for.

    python -m bench.mutate [MODULE ...] [--max-children N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from bench.equivalent_mutants import EQUIVALENT_MUTANTS, Equivalent

ROOT = Path(__file__).resolve().parent.parent
MUTATE_VENV = ROOT / ".venv-mutate"
# MUTATE_WORK: another copy, so that two runs (two people, two modules) do not share one.
WORK = Path(os.environ.get("MUTATE_WORK", ROOT / "build" / "mutate"))
MUTMUT = "mutmut==3.8.1"
DEFAULT_MODULES = ("core/domain/*", "core/use_cases/*")
FAST_TIER = ("tests/unit", "tests/contract")
# Tests that cannot run under mutmut, none of them about core/: the docs' receiver runs a
# copy of webhook_signature.py in a fresh interpreter (mutmut's copy calls back into mutmut,
# not there); the logger's handler keeps the stdout mutmut's first runs swapped in and closed.
NOT_UNDER_MUTMUT = (
    "tests/unit/test_docs.py::test_the_webhook_receiver_works_as_pasted",
    "tests/unit/test_local_logging.py",
)
KILLED = frozenset({"killed", "timeout", "caught by type check", "segfault"})
# mutmut 3.8's exit codes (mutmut/stats.py); anything else it calls suspicious.
STATUS_BY_EXIT_CODE = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests"}
STATUS_BY_EXIT_CODE |= {34: "skipped", 36: "timeout", 37: "caught by type check"}
STATUS_BY_EXIT_CODE |= {-24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout"}
STATUS_BY_EXIT_CODE |= {-11: "segfault", -9: "segfault"}


def _run(command: list[str], cwd: Path = ROOT, check: bool = True) -> str:
    """Runs one of our own commands (interpreters, mutmut, git), its output shown unless
    returned."""
    result = subprocess.run(  # noqa: S603 (fixed commands, no outside input)
        command, cwd=cwd, check=check, stdout=subprocess.PIPE, text=True
    )
    return result.stdout


def ensure_venv() -> Path:
    """.venv-mutate with mutmut, seeing .venv's packages after its own (a .pth file, so
    paygate's editable install is not seen: mutmut's copy of core/ must be the one tested)."""
    mutmut = MUTATE_VENV / "bin" / "mutmut"
    if mutmut.exists():
        return mutmut
    _run([sys.executable, "-m", "venv", str(MUTATE_VENV)])
    (MUTATE_VENV / ".gitignore").write_text("*\n")
    python = MUTATE_VENV / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", MUTMUT])
    own = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    own = own.strip()
    (Path(own) / "paygate-main-venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return mutmut


def prepare(modules: list[str]) -> None:
    """A fresh copy of the tree, and mutmut's configuration for it."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    git = shutil.which("git") or "git"
    listing = _run([git, "ls-files", "--cached", "--others", "--exclude-standard"]).splitlines()
    for name in listing:
        source = ROOT / name
        if source.is_file():  # not a file deleted in the working tree
            (WORK / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, WORK / name)
    # mutmut runs the tests in its own copy, WORK/mutants: all of it, core/ mutated.
    also_copy = sorted({name.split("/")[0] for name in listing} - {"core", "tests"})

    def listed(values: list[str] | tuple[str, ...]) -> str:
        return "".join(f"\n    {value}" for value in values)

    # pyproject.toml has no [tool.mutmut], so mutmut reads setup.cfg.
    (WORK / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths =\n    core\n"
        f"only_mutate ={listed(modules)}\n"
        "do_not_mutate =\n    */__init__.py\n"
        f"also_copy ={listed(also_copy)}\n"
        f"pytest_add_cli_args_test_selection ={listed(FAST_TIER)}\n"
        f"{listed([f'--deselect={test}' for test in NOT_UNDER_MUTMUT])}\n"
        "pytest_add_cli_args =\n    -q\n    -p\n    no:cacheprovider\n"
        "use_git_change_detection = false\n"
    )


@dataclass
class Score:
    module: str
    killed: int
    survivors: list[str]
    equivalent: int = 0

    @property
    def total(self) -> int:
        return self.killed + len(self.survivors) + self.equivalent

    def line(self) -> str:
        percent = 100.0 * self.killed / (self.total - self.equivalent or 1)
        return (
            f"  {self.module:40} {percent:5.1f}%  {self.killed}/{self.total - self.equivalent}"
            f"  ({self.equivalent} equivalent)"
        )


def scores() -> list[Score]:
    results = []
    for meta in sorted((WORK / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(WORK / "mutants")).removesuffix(".meta")
        exit_codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        statuses = [
            "not checked" if code is None else STATUS_BY_EXIT_CODE.get(code, "suspicious")
            for code in exit_codes.values()
        ]
        killed = sum(status in KILLED for status in statuses)
        survivors = sorted(
            name for name, status in zip(exit_codes, statuses, strict=True) if status not in KILLED
        )
        if exit_codes:
            results.append(Score(module, killed, survivors))
    return results


def _judged_as(name: str) -> str:
    """The key of bench/equivalent_mutants.py: mutmut's name with its \u01c1 written as ."""
    return name.replace("\u01c1", ".")


def equivalent(name: str, diff: str) -> Equivalent | None:
    """The recorded judgement of this survivor, if it still names the same mutation."""
    known = EQUIVALENT_MUTANTS.get(_judged_as(name))
    if known is None:
        return None
    lines = diff.splitlines()
    added = [line for line in lines if line.startswith("+") and not line.startswith("+++")]
    deleted = [line for line in lines if line.startswith("-") and not line.startswith("---")]
    # A mutant that only deletes a line is named by a fragment of the line it deletes.
    mutated = ([] if added else deleted) if known.deleted else added
    if any(known.mutated_line in line for line in mutated):
        return known
    return None


def report(mutmut: Path, results: list[Score], diffs: bool) -> None:
    for score in results:
        for name in list(score.survivors):
            judged = _judged_as(name) in EQUIVALENT_MUTANTS
            show = diffs or judged  # mutmut show takes about a second
            diff = _run([str(mutmut), "show", name], cwd=WORK, check=False) if show else ""
            known = equivalent(name, diff)
            if known:
                score.survivors.remove(name)
                score.equivalent += 1
                print(f"equivalent: {name}: {known.reason}")
            else:
                print(f"\nsurvived: {name}\n{diff if diffs else ''}")
    print("\nmutation score (killed / mutants not equivalent), fast tier:")
    for score in results:
        print(score.line())
    survivors = [name for score in results for name in score.survivors]
    equivalents = sum(score.equivalent for score in results)
    print(Score("all", sum(score.killed for score in results), survivors, equivalents).line())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="e.g. core/domain/payment.py")
    parser.add_argument("--max-children", type=int, default=2, help="mutants run at once")
    parser.add_argument("--no-diffs", action="store_true", help="names of survivors only")
    args = parser.parse_args()
    modules = [module.rstrip("/") for module in args.modules] or list(DEFAULT_MODULES)
    modules = [f"{module}/*" if (ROOT / module).is_dir() else module for module in modules]
    mutmut = ensure_venv()
    prepare(modules)
    run = [str(mutmut), "run", "--max-children", str(args.max_children)]
    subprocess.run(run, cwd=WORK, check=False)  # noqa: S603 (its progress shown as it goes)
    report(mutmut, scores(), diffs=not args.no_diffs)
    if not any_mutant_checked():
        print(
            "\nmutmut checked none of the mutants it made, so each reads as a survivor: either "
            "the fast tier failed on the unmutated copy of the tree (an uncommitted edit "
            "failing a test? run `make test-fast`), or no fast-tier test reaches this code.",
            file=sys.stderr,
        )
        return 1
    return 0


def any_mutant_checked() -> bool:
    """False when mutmut's clean run failed, so it ran none of the mutants it made (each
    then reads as a survivor, every score 0%)."""
    codes = [
        code
        for meta in (WORK / "mutants").rglob("*.py.meta")
        for code in json.loads(meta.read_text())["exit_code_by_key"].values()
    ]
    return not codes or any(code is not None for code in codes)


if __name__ == "__main__":
    sys.exit(main())
