"""Measure the newer task families (issue 16, item 3): interference matrices, env speed and the quick protocol.

Each step runs the script that owns the measurement, saves under ``results/`` and then writes
the README block from the saved file (never by hand):

  interference  ``scripts/interference_matrix.py --family F --learner cortex sb3 --seeds 0 1 2``: the
                policy of each context scored on every context, learners ``cortex`` (the family's
                ``bench_F`` preset) and ``sb3`` (SB3's PPO at its defaults, budget from
                configs/measure/F.yaml); ``results/interference/F_<learner>.json``, block
                ``interference_F``. One process per family, ``--jobs`` at a time (one torch thread
                each).
  quick         ``scripts/run.py experiment=quick_F``: the whole A-sleep-B-sleep protocol, in
                ``runs/quick_F`` (the phase cache off, so that every phase's time is measured); its
                results.json, run.json and config copied to ``results/quick_F``, block ``quick_F``.
                ``--jobs`` runs at a time.
  speed         ``scripts/bench_envs.py``: every family's ids (configs/measure/) against bare
                ``mj_step`` of their model and Reacher-v5, in one run, alone on the machine;
                ``results/bench_envs.json``, block ``bench_envs``.

Run it on an idle machine: every step times something. A finished step's files are kept, so a
second call redoes nothing but the README blocks (an interference matrix is remade only if its
JSON is missing; the quick run resumes from its run directory; the speed is measured again).

    python scripts/measure_families.py                          # every step, muscle_reach and stand
                                                                # (estimated from tiny runs before the first
                                                                # measurement: about 1.5 h on 2 idle cores)
    python scripts/measure_families.py --step quick --families stand
    python scripts/measure_families.py --from-saved             # the README blocks from results/ alone
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: the repository's packages
    sys.path.insert(0, str(ROOT))

from reporting.readme import not_measured, replace_readme_block  # noqa: E402
from reporting.summary import run_block  # noqa: E402
from runner.family_settings import FAMILIES  # noqa: E402
from scripts.benchmark import preset  # noqa: E402  (<name>_<family> when that preset exists, as the grid takes it)

STEPS = ("interference", "quick", "speed")
NEW_FAMILIES = ("muscle_reach", "stand")   # issue 16's; the headline's have their own measured blocks
LEARNERS = ("cortex", "sb3")
QUICK_FILES = {"results.json": "results.json", "run.json": "run.json", ".hydra/config.yaml": "config.yaml"}


def _env() -> dict[str, str]:
    """This checkout's packages first in every child process (not another install's)."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), path) if p)}


def script(name: str, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / name), *args]


def run_all(commands: list[list[str]], jobs: int, ok_codes: tuple[int, ...] = (0,)) -> list[str]:
    """Run the commands, ``jobs`` at a time; the failures as text (a command and its exit code)."""
    failures, pending, running = [], list(commands), []
    while pending or running:
        while pending and len(running) < jobs:
            command = pending.pop(0)
            print("+", " ".join(command[1:]), flush=True)
            running.append((command, subprocess.Popen(command, cwd=ROOT, env=_env())))
        command, process = running.pop(0)
        if process.wait() not in ok_codes:
            failures.append(f"{' '.join(command[1:])}: exit code {process.returncode}")
    return failures


def interference(args) -> list[str]:
    """Each family's matrix, unless its saved files exist; exit code 1 (criterion not met) is a result."""
    commands = []
    for family in args.families:
        if all((args.results / "interference" / f"{family}_{learner}.json").is_file() for learner in LEARNERS):
            print(f"interference {family}: saved, kept", flush=True)
            continue
        commands.append(script("interference_matrix.py", "--family", family, "--learner", *LEARNERS,
                               "--seeds", *map(str, args.seeds), "--out", str(args.results / "interference"),
                               *(["--steps", str(args.matrix_steps)] if args.matrix_steps else []),
                               *(["--n-eval", str(args.n_eval)] if args.n_eval else [])))
    return run_all(commands, args.jobs, ok_codes=(0, 1))


def quick(args) -> list[str]:
    """The quick protocol on each family, then its files copied to ``results/quick_<family>``."""
    commands = [script("run.py", f"experiment={preset(args.quick_experiment, family)}", f"env={family}",
                       f"hydra.run.dir={args.runs / f'quick_{family}'}", "progress.mode=plain",
                       "cache.enabled=false", *args.overrides)  # every phase computed: its time is measured
                for family in args.families]
    failures = run_all(commands, args.jobs)
    for family in args.families:
        run_dir, saved = args.runs / f"quick_{family}", args.results / f"quick_{family}"
        if (run_dir / "results.json").is_file():
            saved.mkdir(parents=True, exist_ok=True)
            for source, target in QUICK_FILES.items():
                shutil.copyfile(run_dir / source, saved / target)
    return failures


def speed(args) -> list[str]:
    return run_all([script("bench_envs.py", "--json", str(args.results / "bench_envs.json"),
                           *(["--steps", str(args.speed_steps)] if args.speed_steps else []),
                           *(["--repeats", str(args.speed_repeats)] if args.speed_repeats else []))], 1)


def write_blocks(args) -> list[str]:
    """Every README block of the chosen steps from the saved files (or 'not yet measured'), in this
    process: the scripts' own ``--from-saved`` paths, one block at a time."""
    from scripts import bench_envs, interference_matrix

    readme = ["--readme", str(args.readme)]
    if "interference" in args.step:  # exit code 1 says a criterion is not met (or not measured): a result
        for family in args.families:
            interference_matrix.main(["--family", family, "--learner", *LEARNERS, "--from-saved", "--out",
                                      str(args.results / "interference"), *readme,
                                      "--readme-block", f"interference_{family}"])
    if "quick" in args.step:
        for family in args.families:
            path = args.results / f"quick_{family}" / "results.json"
            body = run_block(json.loads(path.read_text())) if path.is_file() else not_measured(
                f"The quick protocol on {family}",
                f"python scripts/measure_families.py --step quick --families {family}")
            replace_readme_block(f"quick_{family}", body, args.readme)
    if "speed" in args.step and (args.results / "bench_envs.json").is_file():
        bench_envs.main(["--from-saved", str(args.results / "bench_envs.json"), *readme])
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(NEW_FAMILIES),
                        help=f"families of envs/family.py (default {list(NEW_FAMILIES)})")
    parser.add_argument("--step", action="append", choices=STEPS,
                        help="this step only (repeatable; default every step, in the order "
                             f"{', '.join(STEPS)})")
    parser.add_argument("--from-saved", action="store_true", help="no measurement: the README blocks alone")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="interference matrix seeds")
    parser.add_argument("--jobs", type=int, default=2, help="processes at a time for the matrices and quick runs")
    parser.add_argument("--results", type=Path, default=ROOT / "results", help="where the saved files go")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="where the quick runs' directories go")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="the README whose blocks are written")
    # tiny budgets for tests and a first look (the README's numbers take the defaults)
    parser.add_argument("--matrix-steps", type=int, help="interference: steps per context instead of the presets'")
    parser.add_argument("--n-eval", type=int, help="interference: evaluation episodes per score instead of 32")
    parser.add_argument("--quick-experiment", default="quick",
                        help="quick: the preset, <name>_<family> when it exists (default quick: quick_<family>)")
    parser.add_argument("--speed-steps", type=int, help="speed: control steps per measurement instead of 20,000")
    parser.add_argument("--speed-repeats", type=int, help="speed: interleaved rounds instead of 5")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the quick runs (after --)")
    args = parser.parse_args(argv)
    args.step = [s for s in STEPS if s in (args.step or STEPS)]
    if args.jobs < 1:
        parser.error(f"--jobs={args.jobs} is not allowed: expected an integer >= 1")
    failures = []
    if not args.from_saved:
        for step in args.step:
            failures += {"interference": interference, "quick": quick, "speed": speed}[step](args)
    failures += write_blocks(args)
    for failure in failures:
        print("FAILED", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
