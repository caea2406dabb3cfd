"""The gating study (issue 13): regimes x gating modes x seeds, then its tables and figure.

``run`` trains: every regime (an experiment preset ``gating_<regime>``) under ``consolidation=gated``
with each ``consolidation.gating.mode``, over seeds, in ``<out>/<regime>/<mode>/seed<k>``
(resumable, as scripts/benchmark.py). The modes of one regime and seed share their wakes through
the phase cache: they differ only in sleep, so the comparison is paired by seed on the same wakes.

``report`` never trains: from the run directories (or, with ``--from-saved``, from the study's
results folder alone) it writes ``runs.csv`` (tidy per-run metrics), ``audits.json`` (every
sleep's gain audit), ``comparisons.csv``, ``table.md`` and ``figures/gains.png``, and with
``--readme`` the README block ``gating_study``.

    python scripts/gating_study.py run --regimes short_sleep raw_memories small_memory --jobs 2
    python scripts/gating_study.py report --runs runs/gating_study --out results/gating_study --readme
    python scripts/gating_study.py report --from-saved results/gating_study --readme
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from benchmark import run_grid  # noqa: E402

from fileio import write_json_atomic, write_text_atomic  # noqa: E402
from reporting import gating, tidy  # noqa: E402
from reporting.readme import replace_readme_block  # noqa: E402
from reporting.runs import load_runs  # noqa: E402

REGIMES = sorted(p.stem.removeprefix("gating_") for p in (ROOT / "configs" / "experiment").glob("gating_*.yaml"))


def grid(regimes, modes, seeds, out: Path, extra):
    """(label, overrides, run_dir): per regime and seed, 'on' first (it computes the shared wakes)."""
    runs = []
    for regime in regimes:
        for wave in (modes[:1], modes[1:]):
            for seed in seeds:
                for mode in wave:
                    overrides = [f"experiment=gating_{regime}", "consolidation=gated",
                                 f"consolidation.gating.mode={mode}", f"seed={seed}", *extra]
                    runs.append((f"{regime}/{mode}/seed{seed}", overrides, out / regime / mode / f"seed{seed}"))
    return runs


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(args) -> int:
    cache = ["cache.enabled=true", *([f"cache.dir={args.cache_dir.resolve()}"] if args.cache_dir else [])]
    seconds, failures = run_grid(grid(args.regimes, args.modes, args.seeds, args.out, [*args.overrides, *cache]),
                                 args.jobs, "gating study")
    print(f"gating study: {seconds / 60:.1f} min; {len(failures)} failed; runs under {args.out}", flush=True)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def report(args) -> int:
    out = args.from_saved or args.out
    if args.from_saved:
        frame = tidy.read_csv(out / "runs.csv")
        records = json.loads((out / "audits.json").read_text())
    else:
        runs = load_runs(args.runs)
        if not runs:
            print(f"report: no finished run under {args.runs}", file=sys.stderr)
            return 2
        frame = tidy.tidy_frame(runs)
        records = gating.audits(runs)
        tidy.write_csv(frame, out / "runs.csv")
        write_json_atomic(out / "audits.json", records)
    table = gating.comparisons(frame, args.reps, args.bootstrap_seed)
    write_text_atomic(out / "comparisons.csv", table.to_csv(index=False))
    figure = gating.gains_figure(records, out / "figures" / "gains.png")
    command = f"python scripts/gating_study.py report --from-saved {shlex.quote(_shown(out))}"
    body = (gating.markdown(frame, table, args.reps, args.bootstrap_seed, records=records)
            + f"\n\nStudents, bounded scores; intervals: stratified bootstrap over seeds ({args.reps} resamples); "
            f"P(on > control): rliable's probability of improvement. Rebuilt by `{command}`"
            + (f"; gains by task and tag: `{_shown(figure)}`." if figure else "."))
    write_text_atomic(out / "table.md", body + "\n")
    print(body)
    if args.readme:
        replace_readme_block(args.readme_block, body)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run", help="train the study's runs")
    go.add_argument("--regimes", nargs="+", default=REGIMES, help=f"some of {REGIMES}")
    go.add_argument("--modes", nargs="+", default=[m for m in gating.MODES if m != "matched"],
                    help=f"some of {list(gating.MODES)}, 'on' first (default: all but 'matched', which gates as "
                         "'off' does now that each task's mean gain is 1)")
    go.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    go.add_argument("--jobs", type=int, default=2)
    go.add_argument("--out", type=Path, default=ROOT / "runs" / "gating_study")
    go.add_argument("--cache-dir", type=Path, help="phase cache directory (default: the config's)")
    go.add_argument("overrides", nargs="*", help="Hydra overrides for every run (after --)")
    rep = sub.add_parser("report", help="tables and figure from the runs (never trains)")
    rep.add_argument("--runs", type=Path, default=ROOT / "runs" / "gating_study")
    rep.add_argument("--out", type=Path, default=ROOT / "results" / "gating_study")
    rep.add_argument("--from-saved", type=Path, help="a study results folder: rebuild from runs.csv and audits.json")
    rep.add_argument("--reps", type=int, default=2000)
    rep.add_argument("--bootstrap-seed", type=int, default=0)
    rep.add_argument("--readme", action="store_true")
    rep.add_argument("--readme-block", default="gating_study")
    args = parser.parse_args(argv)
    if args.command == "run":
        bad = {"--regimes": (sorted(set(args.regimes) - set(REGIMES)), REGIMES),
               "--modes": (sorted(set(args.modes) - set(gating.MODES)), list(gating.MODES))}
        for flag, (values, allowed) in bad.items():
            if values:
                parser.error(f"{flag} {values} are not allowed: expected some of {allowed}")
        if args.modes[0] != "on":
            parser.error(f"--modes {args.modes} is not allowed: expected 'on' first (it computes the shared wakes)")
        if args.jobs < 1:
            parser.error(f"--jobs={args.jobs} is not allowed: expected an integer >= 1")
        return run(args)
    if args.reps < 1:
        parser.error(f"--reps={args.reps} is not allowed: expected an integer >= 1")
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
