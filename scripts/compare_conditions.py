"""The same benchmark under two conditions, paired by seed: which scores a condition changes.

Reads two ``runs.csv`` files written by ``scripts/report.py`` (per-run metrics recomputed from
each run's saved R matrices) and writes, per family, the table of ``reporting/conditions.py``:
A learned, B learned, A lost and A at the end (or the ``--metrics`` given) under each condition,
and their difference with a stratified bootstrap 95% interval. Never trains.

    python scripts/compare_conditions.py --first results/benchmark/runs.csv --first-name "cue off" \
        --second results/benchmark_cue_on/runs.csv --second-name "cue on" --out results/cue --readme
    python scripts/compare_conditions.py --first results/wake_gating/acetylcholine/runs.csv \
        --first-name ACh --second results/wake_gating/none/runs.csv --second-name none \
        --metrics steps_to_learn_second learned_second retention_drop_first --out results/wake_gating/ach
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fileio import write_text_atomic
from reporting import conditions, tidy
from reporting.readme import replace_readme_block


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=Path, required=True, help="runs.csv of the first condition")
    parser.add_argument("--first-name", required=True, help="its name in the table, e.g. 'cue off'")
    parser.add_argument("--second", type=Path, required=True, help="runs.csv of the second condition")
    parser.add_argument("--second-name", required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for differences.csv and table.md")
    parser.add_argument("--metrics", nargs="+", default=list(conditions.COMPARED),
                        help=f"per-run metrics to compare, in table order (some of {sorted(conditions.LABELS)})")
    parser.add_argument("--strategies", nargs="+", help="compare only these strategies (default: all both hold)")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--bootstrap-seed", type=int, default=0)
    parser.add_argument("--readme", action="store_true", help="write the table into README.md (--readme-block)")
    parser.add_argument("--readme-block", default="conditions")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error(f"--reps={args.reps} is not allowed: expected an integer >= 1")
    unknown = sorted(set(args.metrics) - set(conditions.LABELS))
    if unknown:
        parser.error(f"--metrics {unknown} are not allowed: expected some of {sorted(conditions.LABELS)}")
    try:
        first, second = tidy.read_csv(args.first), tidy.read_csv(args.second)
    except ValueError as error:
        parser.error(str(error))
    if args.strategies:
        held = set(first["strategy"]) & set(second["strategy"])
        if missing := sorted(set(args.strategies) - held):
            parser.error(f"--strategies {missing} are not allowed: expected some of {sorted(held)} (in both files)")
        first, second = (frame[frame["strategy"].isin(args.strategies)] for frame in (first, second))
    table = conditions.paired_differences(first, second, args.reps, args.bootstrap_seed, args.metrics)
    if table.empty:
        parser.error(f"{args.first} and {args.second} share no (family, strategy, policy, metric)")
    command = "python scripts/compare_conditions.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    body = (conditions.markdown(table, args.first_name, args.second_name, args.metrics)
            + f"\n\nIntervals: stratified bootstrap over seeds ({args.reps} resamples). Written by `{command}`.")
    write_text_atomic(args.out / "differences.csv", table.to_csv(index=False))
    write_text_atomic(args.out / "table.md", body + "\n")
    print(body)
    if args.readme:
        replace_readme_block(args.readme_block, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
