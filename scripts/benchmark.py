"""Run an experiment preset over strategies x families x seeds, with progress and time left.

Each run lives in ``<out>/<family>/<strategy>/seed<k>`` (a finished run is kept, an interrupted
one resumes from its last finished phase), computed by ``--jobs`` worker processes that build
the run from the same Hydra config scripts/run.py would (compose + instantiate, no subprocess
per run). Runs that share their wake phases (``none``, the sleep variants, the sleep ablations)
are queued after the runs that compute wakes, and the baselines whose first wake is shared
after those whose wakes are all their own, so that they find the wakes in the phase cache
(runner/cache.py) instead of waiting on another worker's lock.

    python scripts/benchmark.py                                    # the headline grid (10 seeds)
    python scripts/benchmark.py --strategies none gated --families reach --seeds 0 1 --jobs 1
    python scripts/benchmark.py --cache-timing                     # + cache vs no cache, small grid
    python scripts/benchmark.py --experiment quick --families reach --strategies gated full \\
        --seeds 0 1 2 --out runs/compare -- consolidation.updates=8000   # Hydra overrides after --
    python scripts/benchmark.py --experiment bench --families muscle_reach stand   # experiment=bench_<family>

Families are those of envs/family.py (``all`` for every one); the default is the headline's,
reach and balance.

It prints one line per finished run and writes ``<out>/timing.json`` (wall time, grid, jobs,
cache); ``--cache-timing`` first times a small grid (``--timing-strategies`` x one seed on
reach) without the cache and then with an empty one, and adds both times to it.
scripts/report.py turns the run directories into tables and plots, or with --mean-std into the
short table of mean ± std over seeds per strategy (``report.py --runs runs/compare --mean-std``).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import yaml
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONFIGS = ROOT / "configs"


def strategy_options() -> list[str]:
    return sorted(p.stem for p in (CONFIGS / "consolidation").glob("*.yaml"))


def _strategy_class(option: str) -> type:
    target = yaml.safe_load((CONFIGS / "consolidation" / f"{option}.yaml").read_text())["_target_"]
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def shares_wake(option: str) -> bool:
    """Whether the class a consolidation option instantiates reuses fine-tuning's wakes."""
    return bool(getattr(_strategy_class(option), "shares_wake", False))


def first_wake_plain(option: str, extra: list[str] | tuple[str, ...] = (), family: str = "reach") -> bool:
    """Whether the option's first wake is plain fine-tuning (shared through the cache), asked of
    the strategy the runs build: its config with the family and the grid's extra overrides (which
    may address the family's own env keys)."""
    from hydra.utils import instantiate

    from runner.build import compose_config

    cfg = compose_config([f"env={family}", f"consolidation={option}", *extra])
    return bool(instantiate(cfg.consolidation).plain_wake(0))


def run_experiment(overrides: list[str], run_dir: str) -> float:
    """Build (runner.build, as scripts/run.py does) and run one experiment in this process; its
    wall seconds. The run directory gets the same files as one of scripts/run.py's."""
    from runner.build import build_experiment

    start = time.perf_counter()
    if not any(o.lstrip("+~").startswith("progress.") for o in overrides):
        # workers share the terminal: the grid's lines say what finished; each run's run.log has its own
        overrides = ["progress.mode=off", *overrides]
    build_experiment(overrides, run_dir=run_dir).run()  # the experiment sets its own torch threads
    return time.perf_counter() - start


def _worker(overrides: list[str], run_dir: str) -> tuple[float, str | None]:
    try:
        return run_experiment(overrides, run_dir), None
    except Exception:  # reported by the parent; the other runs go on
        return 0.0, traceback.format_exc(limit=6)


def preset(experiment: str, family: str) -> str:
    """The family's own preset ``<experiment>_<family>`` when there is one (budgets differ by
    family), else ``experiment`` itself with ``env=<family>``."""
    own = f"{experiment}_{family}"
    return own if (CONFIGS / "experiment" / f"{own}.yaml").is_file() else experiment


def grid(experiment: str, families: list[str], strategies: list[str], seeds: list[int], out: Path,
         extra: list[str]) -> list[tuple[str, list[str], Path]]:
    """(label, overrides, run_dir) of every run, wake-computing runs first, seeds outermost."""
    leaders = [s for s in strategies if not shares_wake(s) or s == "none"]
    followers = [s for s in strategies if s not in leaders]
    if followers and "none" not in leaders:  # one sharing run per seed computes the shared wakes
        leaders.append(followers.pop(0))
    # the run computing the shared first wake goes first, then those sharing no wake, so that the
    # baselines whose first wake is plain find it in the cache instead of waiting on its lock
    leaders.sort(key=lambda s: (s != "none", first_wake_plain(s, extra, families[0])))
    # a follower that steps the env in sleep (the awake control) takes ten times the others:
    # first in its seed, so that the grid does not end on one long run with the other workers idle
    followers.sort(key=lambda s: not getattr(_strategy_class(s), "takes_env_steps", False))
    runs = []
    for wave in (leaders, followers):
        for seed in seeds:
            for family in families:
                for strategy in wave:
                    overrides = [f"experiment={preset(experiment, family)}", f"env={family}",
                                 f"consolidation={strategy}",
                                 f"seed={seed}", *extra]
                    runs.append((f"{family}/{strategy}/seed{seed}", overrides, out / family / strategy / f"seed{seed}"))
    return runs


class TimeLeft:
    """Time left from what the finished runs took, by kind of run: (family, strategy) first, then
    the family, then every run. Runs differ a lot (a run that reuses its wakes from the cache
    takes seconds, one that computes them a minute), so a plain rate over runs would mislead."""

    def __init__(self, labels: list[str], jobs: int) -> None:
        self.pending, self.jobs = set(labels), jobs
        self.seconds: dict[str, list[float]] = {}

    @staticmethod
    def _kinds(label: str) -> tuple[str, str, str]:
        family, strategy, _ = label.split("/")
        return f"{family}/{strategy}", family, ""

    def finished(self, label: str, seconds: float) -> None:
        self.pending.discard(label)
        for kind in self._kinds(label):
            self.seconds.setdefault(kind, []).append(seconds)

    def minutes(self) -> float | None:
        """Estimated minutes left on ``jobs`` workers (None before any run finished)."""
        if not self.seconds:
            return None
        total = 0.0
        for label in self.pending:
            known = next(self.seconds[k] for k in self._kinds(label) if k in self.seconds)
            total += sum(known) / len(known)
        return total / self.jobs / 60


def run_grid(runs: list[tuple[str, list[str], Path]], jobs: int, desc: str) -> tuple[float, list[str]]:
    """Run every unfinished run with ``jobs`` workers; (wall seconds, failures)."""
    todo = [r for r in runs if not (r[2] / "results.json").is_file()]
    print(f"{desc}: {len(runs)} runs, {len(runs) - len(todo)} already finished, {len(todo)} to run on "
          f"{jobs} worker(s)", flush=True)
    failures: list[str] = []
    left = TimeLeft([label for label, _, _ in todo], jobs)
    start = time.perf_counter()
    done = 0
    # a live line on a terminal only: in a file or CI its carriage returns would garble the log,
    # where the plain line per finished run says the same
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool, \
            tqdm(total=len(todo), desc=desc, unit="run", file=sys.stdout, disable=not sys.stdout.isatty(),
                 bar_format="{desc}: {n_fmt}/{total_fmt} runs finished [{elapsed} so far{postfix}]") as progress:
        futures = {pool.submit(_worker, overrides, str(run_dir)): label for label, overrides, run_dir in todo}
        for future in as_completed(futures):
            label = futures[future]
            try:
                seconds, error = future.result()
            except BrokenProcessPool:  # a worker was killed (signal, out of memory): no run after it starts
                seconds, error = 0.0, ("not finished: a worker process died (killed, or out of memory); run the "
                                       "same command again to resume from the last finished phase")
            left.finished(label, seconds)
            done += 1
            minutes = left.minutes()
            eta = "" if minutes is None else f", about {minutes:.1f} min left"
            if error:
                failures.append(f"{label}:\n{error}")
                progress.write(f"FAILED {label}: {error.strip().splitlines()[-1]} ({done}/{len(todo)})",
                               file=sys.stdout)
            else:
                progress.write(f"done {label} in {seconds:.0f} s ({done}/{len(todo)}{eta})", file=sys.stdout)
            progress.set_postfix_str(eta.lstrip(", "), refresh=False)
            progress.update()
            sys.stdout.flush()
    return time.perf_counter() - start, failures


def _write_json(path: Path, payload: dict) -> None:
    from fileio import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, payload)


def cache_timing(args, extra: list[str]) -> dict:
    """The same small grid without the cache and then with an empty one, in this run."""
    base = args.out / "cache_timing"
    shutil.rmtree(base, ignore_errors=True)
    seconds = {}
    for mode, overrides in (("without_cache", ["cache.enabled=false"]),
                            ("with_cache", ["cache.enabled=true", f"cache.dir={base / 'cache'}"])):
        runs = grid(args.experiment, ["reach"], args.timing_strategies, [args.timing_seed], base / mode,
                    [*extra, *overrides])
        seconds[mode], failures = run_grid(runs, args.jobs, f"cache timing, {mode.replace('_', ' ')}")
        if failures:
            raise SystemExit("cache timing failed:\n" + "\n".join(failures))
    timing = {"grid": f"reach x {' '.join(args.timing_strategies)} x seed {args.timing_seed}", "jobs": args.jobs,
              "minutes_without_cache": seconds["without_cache"] / 60, "minutes_with_cache": seconds["with_cache"] / 60,
              "speed_up": seconds["without_cache"] / seconds["with_cache"]}
    print(f"cache timing ({timing['grid']}, {args.jobs} jobs): {timing['minutes_without_cache']:.1f} min without "
          f"the cache, {timing['minutes_with_cache']:.1f} min with it ({timing['speed_up']:.1f}x)", flush=True)
    return timing


def preset_names() -> list[str]:
    """What ``--experiment`` takes: every preset, and each family preset's stem (``bench`` for
    ``bench_reach``, also for ``bench_muscle_reach``)."""
    from runner.family_settings import FAMILIES

    stems = {p.stem for p in (CONFIGS / "experiment").glob("*.yaml")}
    names = set(stems)
    for stem in stems:
        own = [f for f in FAMILIES if stem.endswith(f"_{f}")]
        if own:  # the longest family name it ends with (muscle_reach, not reach)
            names.add(stem.removesuffix(f"_{max(own, key=len)}"))
    return sorted(names)


def main(argv: list[str] | None = None) -> int:
    from runner.family_settings import FAMILIES, HEADLINE_FAMILIES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="bench",
                        help="experiment preset; <experiment>_<family> is taken when it exists (bench_reach)")
    parser.add_argument("--families", nargs="+", default=list(HEADLINE_FAMILIES),
                        help=f"some of {list(FAMILIES)}, or all (default: the headline's {list(HEADLINE_FAMILIES)})")
    parser.add_argument("--strategies", nargs="+", default=["all"], help="consolidation options, or all")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one torch thread each)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmark")
    parser.add_argument("--cache-dir", type=Path, help="phase cache directory (default: the config's)")
    parser.add_argument("--no-cache", action="store_true", help="compute every phase")
    parser.add_argument("--cache-timing", action="store_true", help="first time a small grid with and without cache")
    parser.add_argument("--timing-strategies", nargs="+", default=["none", "distill", "gated", "full"])
    parser.add_argument("--timing-seed", type=int, default=100)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run (after --)")
    args = parser.parse_args(argv)
    options = strategy_options()
    strategies = options if args.strategies == ["all"] else args.strategies
    args.families = [f for f in dict.fromkeys(a for name in args.families
                                              for a in (FAMILIES if name == "all" else [name]))]
    bad = {"--families": sorted(set(args.families) - set(FAMILIES)),
           "--strategies": sorted(set(strategies) - set(options)),
           "--timing-strategies": sorted(set(args.timing_strategies) - set(options))}
    allowed = {"--families": list(FAMILIES), "--strategies": options, "--timing-strategies": options}
    for flag, values in bad.items():
        if values:
            parser.error(f"{flag} {values} are not allowed: expected some of {allowed[flag]}")
    if args.jobs < 1:
        parser.error(f"--jobs={args.jobs} is not allowed: expected an integer >= 1")
    if not all((CONFIGS / "experiment" / f"{preset(args.experiment, f)}.yaml").is_file() for f in args.families):
        parser.error(f"--experiment {args.experiment!r} is not a preset for {args.families}: expected one of "
                     f"{preset_names()}")
    if args.no_cache:
        cache = ["cache.enabled=false"]
    else:
        cache = ["cache.enabled=true", *([f"cache.dir={args.cache_dir.resolve()}"] if args.cache_dir else [])]
    extra = [*args.overrides]
    timed_cache = cache_timing(args, extra) if args.cache_timing else None
    runs = grid(args.experiment, args.families, strategies, args.seeds, args.out, [*extra, *cache])
    seconds, failures = run_grid(runs, args.jobs, "benchmark")
    timing = {"experiment": args.experiment, "families": args.families, "strategies": strategies,
              "seeds": args.seeds, "runs": len(runs), "jobs": args.jobs, "cache": not args.no_cache,
              "minutes": seconds / 60, "failed": len(failures), "cache_timing": timed_cache}
    _write_json(args.out / "timing.json", timing)
    print(f"benchmark: {len(runs)} runs in {seconds / 60:.1f} min on {args.jobs} worker(s); "
          f"{len(failures)} failed; run directories under {args.out}", flush=True)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
