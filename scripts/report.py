"""Benchmark report from saved runs (never trains): per-run metrics (runs.csv), IQM and mean with
stratified bootstrap 95% intervals over seeds, probability of improvement, PNG figures, and
the README's results block; or, with --mean-std, the short table of mean ± std over seeds per
strategy (the README's compare block). Library: reporting/.

Inputs, any of:
  --runs ROOT      finished runs, laid out as <ROOT>/<family>/<strategy>/seed<k>/results.json
                   (scripts/benchmark.py), <ROOT>/<strategy>/seed<k>/results.json (one family,
                   read from the file or --family) or <ROOT>/<family>/<strategy>/seed<k>.json
                   (copies written by --save-runs)
  --from-csv CSV   a runs.csv written before: tables and metric-only figures need nothing else;
                   R heatmaps, retention and sleep curves use the saved copies beside it (or --runs)
  --aba ROOT       ABA-gap runs (paradigm_aba_gap0/1/2/4) anywhere under ROOT; k is read from each
                   protocol; their measures go to aba.csv (read back by --from-csv)
  --timing JSON    {"minutes_with_cache": x, "minutes_without_cache": y, "grid": "...", ...} from the
                   benchmark, quoted beside the tables ("n/a" when absent)
  --started EPOCH  with --timing: the unix time the benchmark started (scripts/reproduce.sh); the
                   minutes from then to these tables are saved in the timing as end_to_end_minutes
Outputs under results/<name>/ (or --out): runs.csv, aba.csv, summary.csv, improvement.csv,
report.md, figures/*.png, and with --save-runs <family>/<strategy>/seed<k>.json and
aba/<family>/gap<k>/<strategy>/seed<s>.json copies.

--mean-std (reads --runs only): mean ± std over seeds per strategy of a few headline columns
(reporting/mean_std.py), one table per family, printed and written to table.md with the per-run
values in runs.csv, under --out or results/<name> (default: the --runs root); --save-runs copies the runs
there too; --readme puts it in the README's compare block (--readme-block), headed by the
experiment preset read from the run directories (--experiment when they do not say, as saved
copies do not).

    python scripts/report.py --runs runs/benchmark --name benchmark --save-runs --readme
    python scripts/report.py --runs results/compare_reach --name compare_reach_report
    python scripts/report.py --from-csv results/benchmark/runs.csv --readme      # from results/ alone
    python scripts/report.py --runs runs/benchmark --aba runs/aba --timing runs/benchmark/timing.json \\
        --name benchmark --save-runs --reps 2000 --bootstrap-seed 0
    python scripts/report.py --runs results/compare_reach --mean-std --experiment quick --readme
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from fileio import write_json_atomic, write_text_atomic
from reporting import findings, intervals, mean_std, plots, runs, tables, tidy
from reporting.readme import replace_readme_block

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCKS = {"report": "results", "mean_std": "compare"}  # README block each output replaces by default


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.mean_std:
        return _mean_std(args, parser)
    if args.experiment is not None:
        parser.error("--experiment names the runs of --mean-std only")
    if args.runs is None and args.from_csv is None:
        parser.error("give --runs ROOT (run directories or saved copies) or --from-csv CSV")
    if args.reps < 1:
        parser.error(f"--reps must be >= 1, got {args.reps}")
    if args.out is None and args.name is None and args.from_csv is None:
        parser.error("--name (or --out) is required with --runs: the report goes to results/<name>/")
    if args.out is not None:
        out = args.out.resolve()
    elif args.name is not None:
        out = (ROOT / "results" / args.name).resolve()
    else:  # rebuilding: next to the CSV it is rebuilt from
        out = args.from_csv.resolve().parent
    if args.started is not None and (args.timing is None or not 0 < args.started <= time.time()):
        parser.error(f"--started {args.started!r} is not allowed: expected a unix time in the past, with --timing")
    readme = _readme(args, parser)
    notes: list[str] = []
    try:
        loaded, frame = _runs_and_frame(args, out, notes)
        aba = _aba(args, out, notes)
        timing = _timing(args, out, notes)
    except ValueError as error:
        parser.error(str(error))

    summary = intervals.summarise(frame, args.reps, args.bootstrap_seed)
    improvement = intervals.improvements(frame, args.poi_of, tables.POI_METRICS, args.reps, args.bootstrap_seed)
    if args.poi_of not in set(frame["strategy"]):
        notes.append(f"No probability of improvement: strategy `{args.poi_of}` (--poi-of) has no runs.")
    write_text_atomic(out / "summary.csv", summary.to_csv(index=False))
    write_text_atomic(out / "improvement.csv", improvement.to_csv(index=False))
    try:
        figures = {} if args.no_figures else _figures(loaded, summary, frame, aba, out / "figures", args.order)
    except ValueError as error:  # e.g. runs of one strategy on different protocols
        parser.error(str(error))

    # kept in out/timing.json, so that a rebuild from the CSV quotes them too
    added = {}
    if loaded:  # the runs' own phase times
        added["worker_minutes"] = runs.worker_minutes(loaded)
    if args.started is not None and timing is not None:  # scripts/reproduce.sh
        added["end_to_end_minutes"] = (time.time() - args.started) / 60
    if added:
        timing = {**(timing or {}), **added}
        write_json_atomic(out / "timing.json", timing)
    command = _rebuild_command(args, out, readme, bool(loaded) and args.save_runs, timing is not None)
    said = findings.markdown(frame, args.reps, args.bootstrap_seed)
    text = tables.report(summary, improvement, figures, out, command, args.reps, args.bootstrap_seed, timing,
                         args.order, notes, said)
    write_text_atomic(out / "report.md", text + "\n")
    print(text)
    if readme is not None and args.findings_only:
        body = f"Written by `{command}` from the per-run metrics (do not edit by hand).\n\n{said}"
        return _replace_block(args.readme_block or BLOCKS["report"], body, readme)
    if readme is not None:
        body = tables.report(summary, improvement, figures, readme.parent, command, args.reps, args.bootstrap_seed,
                             timing, args.order, notes, said)
        return _replace_block(args.readme_block or BLOCKS["report"], body, readme)
    return 0


def _mean_std(args, parser: argparse.ArgumentParser) -> int:
    """--mean-std: the table of mean ± std over seeds from the runs under --runs."""
    unused = [flag for flag, value in (("--from-csv", args.from_csv), ("--aba", args.aba), ("--timing", args.timing),
                                       ("--started", args.started)) if value is not None]
    if args.runs is None or unused:
        parser.error(f"--mean-std reads --runs ROOT only{f', not {unused}' if unused else ''}")
    readme = _readme(args, parser)
    try:
        loaded = runs.load_runs(args.runs, args.layout, args.family)
    except ValueError as error:
        parser.error(str(error))
    out = (args.out or (ROOT / "results" / args.name if args.name else args.runs)).resolve()
    if args.save_runs and out == args.runs.resolve():
        parser.error("--save-runs copies the runs to --out (or results/<name>): give a folder other than --runs")
    if not mean_std.is_runs_csv(out / "runs.csv"):
        parser.error(f"{out / 'runs.csv'} holds the benchmark report's per-run metrics: give another --out")
    found = sorted({name for name in map(mean_std.experiment_of, loaded) if name})
    if args.experiment is not None and found and found != [args.experiment]:
        parser.error(f"--experiment {args.experiment!r} is not what the runs were started with: {found}")
    experiment = args.experiment or ", ".join(found)
    if readme is not None and not experiment:
        parser.error("--readme: the runs do not record their experiment preset (saved copies): pass --experiment")
    frame = mean_std.runs_frame(loaded)
    text = mean_std.table(frame, args.order)
    tidy.write_csv(frame, out / "runs.csv")
    write_text_atomic(out / "table.md", text + "\n")
    if args.save_runs:
        runs.save_copies(loaded, out)
    print(text)
    if readme is not None:
        return _replace_block(args.readme_block or BLOCKS["mean_std"], mean_std.readme_body(text, experiment), readme)
    return 0


def _readme(args, parser: argparse.ArgumentParser) -> Path | None:
    """The README whose block --readme replaces (None without --readme); it must exist."""
    readme = args.readme.resolve() if args.readme else None
    if readme is not None and not readme.is_file():
        parser.error(f"--readme {readme} does not exist")
    return readme


def _replace_block(block: str, body: str, readme: Path) -> int:
    try:
        replace_readme_block(block, body, readme)
    except ValueError as error:
        print(f"error: --readme: {error}; add the markers where the table belongs", file=sys.stderr)
        return 2
    print(f"\n{readme}: block '{block}' replaced", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, help="root of the finished runs (or of saved copies)")
    parser.add_argument("--layout", default="auto", choices=["auto", *runs.LAYOUTS],
                        help="how runs sit under --runs (default: detected)")
    parser.add_argument("--family", help="family of every run in the strategy/seed layout (default: the file's)")
    parser.add_argument("--from-csv", type=Path, help="rebuild from this runs.csv instead of recomputing metrics")
    parser.add_argument("--name", help="report name: outputs go to results/<name>/ (default with --from-csv: "
                                       "the CSV's folder)")
    parser.add_argument("--out", type=Path, help="output folder instead of results/<name>/")
    parser.add_argument("--save-runs", action="store_true",
                        help="copy each run's results.json to <out>/<family>/<strategy>/seed<k>.json")
    parser.add_argument("--aba", type=Path, help="root of ABA-gap runs (any folder names below it)")
    parser.add_argument("--timing", type=Path, help="benchmark timing JSON quoted beside the tables")
    parser.add_argument("--started", type=float,
                        help="unix time the benchmark started (scripts/reproduce.sh): the time from then to these "
                             "tables is added to the timing as end_to_end_minutes")
    parser.add_argument("--readme", type=Path, nargs="?", const=README,
                        help="replace a <!-- NAME:start/end --> block of this README (default README.md)")
    parser.add_argument("--readme-block", metavar="NAME",
                        help=f"the block --readme replaces (default: {BLOCKS['report']}; with --mean-std, "
                             f"{BLOCKS['mean_std']})")
    parser.add_argument("--findings-only", action="store_true",
                        help="with --readme: the block gets only what the numbers say (reporting/findings.py)")
    parser.add_argument("--mean-std", action="store_true",
                        help="instead of the report: mean ± std over seeds per strategy (table.md, runs.csv) from "
                             "--runs, written to --out (default: the --runs root)")
    parser.add_argument("--experiment",
                        help="with --mean-std: the experiment preset of the runs, named in the README block "
                             "(default: read from the run directories' .hydra/overrides.yaml)")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap replications (default 2000)")
    parser.add_argument("--bootstrap-seed", type=int, default=0, help="seed of every bootstrap (default 0)")
    parser.add_argument("--poi-of", default="full", help="strategy whose probability of improvement over each "
                                                         "other is reported (default full)")
    parser.add_argument("--order", nargs="+", help="strategy order of tables and legends")
    parser.add_argument("--no-figures", action="store_true", help="tables only")
    return parser


def _runs_and_frame(args, out: Path, notes: list[str]):
    """(runs for the figures that need R, tidy frame): recomputed from --runs, or read from
    --from-csv with the runs from --runs or from the saved copies beside the CSV."""
    if args.from_csv is None:
        loaded = runs.load_runs(args.runs, args.layout, args.family)
        frame = tidy.tidy_frame(loaded)
        tidy.write_csv(frame, out / "runs.csv")
        if args.save_runs:
            runs.save_copies(loaded, out)
        return loaded, frame
    frame = tidy.read_csv(args.from_csv)
    if args.from_csv.resolve() != out / "runs.csv":  # the rebuild command reads out/runs.csv
        tidy.write_csv(frame, out / "runs.csv")
    source = args.runs or args.from_csv.parent
    try:
        loaded = runs.load_runs(source, args.layout if args.runs else "saved", args.family)
    except ValueError as error:
        if args.runs:
            raise
        loaded = []
        notes.append(f"R heatmaps, retention and sleep curves skipped: {error} (write copies with --save-runs).")
    if args.save_runs and loaded:
        runs.save_copies(loaded, out)
    return loaded, frame


def _aba(args, out: Path, notes: list[str]):
    """The ABA-gap frame: from --aba runs (written to aba.csv), else aba.csv beside --from-csv,
    else empty with a note."""
    if args.aba is not None:
        found = [run for run in runs.load_any(args.aba) if runs.aba_gap(run.results) is not None]
        aba = tidy.aba_frame(found)
        if aba.empty:
            notes.append(f"ABA gap: no run under {args.aba} learns A then B; figure skipped.")
            return aba
        tidy.write_csv(aba, out / "aba.csv")
        if args.save_runs:
            runs.save_copies(found, out / "aba",
                             folders=lambda r: (r.family, f"gap{runs.aba_gap(r.results)}", r.strategy))
        return aba
    beside = args.from_csv.parent / "aba.csv" if args.from_csv else None
    if beside is not None and beside.is_file():
        aba = tidy.read_csv(beside, tidy.ABA_COLUMNS)
        if beside.resolve() != out / "aba.csv":
            tidy.write_csv(aba, out / "aba.csv")
        return aba
    notes.append("ABA gap: no runs given (--aba ROOT with the paradigm_aba_gap0/1/2/4 runs); figure skipped.")
    return tidy.aba_frame([])


def _timing(args, out: Path, notes: list[str]):
    """The timing object, copied to <out>/timing.json so that a rebuild from results/ finds it."""
    if args.timing is None:
        return None
    timing = tables.read_timing(args.timing)
    if timing is None:
        notes.append(f"Timing file {args.timing} not found: shown as n/a.")
        return None
    target = out / "timing.json"
    if args.timing.resolve() != target:
        write_text_atomic(target, args.timing.read_text())
    return timing


def _figures(loaded, summary, frame, aba, folder: Path, order) -> dict[str, list[Path]]:
    """Every figure the inputs allow, by section (family, or "ABA gap")."""
    figures: dict[str, list[Path]] = {}
    for family in sorted(set(summary["family"])):
        made = [plots.interval_plot(summary, family, folder / f"{family}_intervals.png", order=order),
                plots.retention_against_learning(frame, family, folder / f"{family}_kept_vs_learned.png", order)]
        if loaded:
            made += [plots.heatmaps(loaded, family, folder / f"{family}_R.png", order),
                     plots.retention_curves(loaded, family, folder / f"{family}_retention.png", order),
                     plots.gating_curves(loaded, family, folder / f"{family}_sleep.png", order)]
        figures[family] = [path for path in made if path is not None]
    if not aba.empty:
        figures["ABA gap"] = [plots.aba_curve(aba, folder / "aba_gap.png", order)]
    return figures


def _rebuild_command(args, out: Path, readme: Path | None, saved: bool, timed: bool) -> str:
    """The command that rebuilds this report from what it wrote under ``out`` (plus the runs
    root when no copies were saved there)."""
    words = ["python", "scripts/report.py", "--from-csv", _shown(out / "runs.csv")]
    if args.runs is not None and (args.from_csv is not None or not saved):  # R figures need the runs
        words += ["--runs", _shown(args.runs)] + (["--layout", args.layout] if args.layout != "auto" else [])
        words += ["--family", args.family] if args.family else []
    # a rebuild writes next to its CSV, which is out/runs.csv: no --out or --name needed
    if timed:
        words += ["--timing", _shown(out / "timing.json")]
    for flag, value, default in (("--reps", args.reps, 2000), ("--bootstrap-seed", args.bootstrap_seed, 0),
                                 ("--poi-of", args.poi_of, "full")):
        if value != default:
            words += [flag, str(value)]
    if args.order:
        words += ["--order", *args.order]
    if readme is not None:
        words += ["--readme"] + ([] if readme == README.resolve() else [_shown(readme)])
        words += ["--readme-block", args.readme_block] if args.readme_block else []
        words += ["--findings-only"] if args.findings_only else []
    return shlex.join(words)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    sys.exit(main())
