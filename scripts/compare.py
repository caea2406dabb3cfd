"""Compare strategies over seeds on one protocol: run each (strategy, seed), then tabulate.

Runs go through scripts/run.py, one subprocess each, into ``<out>/<strategy>/seed<k>``; a run
directory that already holds ``results.json`` is reused, and an interrupted one resumes
from its last finished phase, so the command can be repeated until the table is complete.
Seeds are the runs: spreads are over seeds, never over evaluation episodes.

    python scripts/compare.py --strategies none distill gated full ewc --seeds 0 1 2 3 4
    python scripts/compare.py --experiment quick --strategies none gated --seeds 0 1 -- env=balance
    python scripts/compare.py --out runs/compare --table-only            # no training
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from consolidation.results import metrics_of
from fileio import write_text_atomic
from reporting.readme import replace_readme_block

ROOT = Path(__file__).resolve().parents[1]
METRICS = {  # column -> (policy, how to read it from results.json)
    "avg perf (cortex)": lambda r: r["metrics"]["cortical"]["average_performance"],
    "avg perf (student)": lambda r: r["metrics"]["subcortical"]["average_performance"],
    "forgetting (cortex)": lambda r: r["metrics"]["cortical"]["average_forgetting"],
    "forgetting (student)": lambda r: r["metrics"]["subcortical"]["average_forgetting"],
    "retention A (cortex)": lambda r: r["metrics"]["cortical"]["retention"][r["tasks"][0]],
    "retention A (student)": lambda r: r["metrics"]["subcortical"]["retention"][r["tasks"][0]],
    "zero-shot B (cortex)": lambda r: _zero_shot(r),
    "fidelity A": lambda r: r["metrics"]["fidelity"][r["tasks"][0]],
    "wall time (min)": lambda r: sum(r["timings"].values()) / 60,
}


def _zero_shot(results: dict) -> float:
    """Cortical score on the second task just before its training: the transfer from the first."""
    if len(results["tasks"]) < 2:
        return math.nan
    row = results["trained_rows"]["cortical"][1]
    return math.nan if row is None or row == 0 else results["R"]["cortical"][row - 1][1]


def run_one(experiment: str, strategy: str, seed: int, run_dir: Path, overrides: list[str]) -> float:
    """Run (or resume) one experiment; seconds spent, 0 when it was already finished."""
    if (run_dir / "results.json").is_file():
        return 0.0
    start = time.perf_counter()
    command = [sys.executable, str(ROOT / "scripts" / "run.py"), f"experiment={experiment}",
               f"consolidation={strategy}", f"seed={seed}", f"hydra.run.dir={run_dir}", *overrides]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return time.perf_counter() - start


def collect(out: Path) -> pd.DataFrame:
    """One row per finished run: strategy, seed and every metric of METRICS."""
    rows = []
    for path in sorted(out.glob("*/seed*/results.json")):
        results = json.loads(path.read_text())
        results["metrics"] = {**results["metrics"], **metrics_of(results)}  # current metric definitions
        row = {"strategy": path.parent.parent.name, "seed": results["seed"]}
        # a strategy that never slept has an untrained student: its student columns mean nothing
        slept = any(p["kind"] == "sleep" and not p.get("skipped", False) for p in results["phases"])
        for name, read in METRICS.items():
            if not slept and ("student" in name or name.startswith("fidelity")):
                row[name] = math.nan
                continue
            try:
                value = read(results)
            except (KeyError, IndexError, TypeError):
                value = math.nan
            row[name] = float(value) if value is not None else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def table(runs: pd.DataFrame, order: list[str] | None = None) -> str:
    """Markdown: mean ± std over seeds (n seeds) per strategy and metric."""
    if runs.empty:
        return "(no finished runs)"
    strategies = [s for s in (order or []) if s in set(runs["strategy"])] or sorted(set(runs["strategy"]))
    lines = ["| strategy | seeds | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 2) + "|"]
    for strategy in strategies:
        group = runs[runs["strategy"] == strategy]
        cells = []
        for name in METRICS:
            values = group[name].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            cells.append("n/a" if not len(values) else
                         f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.2f}")
        lines.append(f"| {strategy} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="quick", help="experiment preset (configs/experiment)")
    parser.add_argument("--strategies", nargs="+", default=["none", "distill", "replay_distill", "gated", "full"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "compare")
    parser.add_argument("--table-only", action="store_true", help="no training: tabulate what is in --out")
    parser.add_argument("--save", type=Path,
                        help="also copy runs.csv, table.md and every run's results.json to this folder (results/)")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md (compare block)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run (after --)")
    args = parser.parse_args(argv)
    available = {p.stem for p in (ROOT / "configs" / "consolidation").glob("*.yaml")}
    unknown = sorted(set(args.strategies) - available)
    if unknown:
        parser.error(f"--strategies {unknown} are not config options: allowed are {sorted(available)}")
    if not args.table_only:
        total = len(args.strategies) * len(args.seeds)
        done, started = 0, time.perf_counter()
        for seed in args.seeds:  # seeds outermost: an interrupted comparison stays balanced
            for strategy in args.strategies:
                seconds = run_one(args.experiment, strategy, seed, args.out / strategy / f"seed{seed}", args.overrides)
                done += 1
                elapsed = time.perf_counter() - started
                print(f"[{done}/{total}] {strategy} seed {seed}: {seconds:.0f} s "
                      f"(elapsed {elapsed / 60:.1f} min, about {elapsed / done * (total - done) / 60:.1f} min left)",
                      flush=True)
    runs = collect(args.out)
    write_text_atomic(args.out / "runs.csv", runs.to_csv(index=False))
    text = table(runs, args.strategies)
    write_text_atomic(args.out / "table.md", text + "\n")
    print(text)
    for folder in [args.save] if args.save else []:
        write_text_atomic(folder / "runs.csv", runs.to_csv(index=False))
        write_text_atomic(folder / "table.md", text + "\n")
        for path in sorted(args.out.glob("*/seed*/results.json")):  # what --table-only rebuilds from
            copy = folder / path.relative_to(args.out)
            if copy.resolve() != path.resolve():
                write_text_atomic(copy, path.read_text())
    if args.readme:
        replace_readme_block("compare", f"experiment `{args.experiment}`, mean ± std over seeds\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
