"""Finished runs on disk: find them under a benchmark root, load and check the fields the
report reads, and save verbatim per-run copies so that every figure can be rebuilt from
``results/`` after ``runs/`` is gone.

A run is one ``results.json`` (scripts/run.py writes it last, so its presence means the run
finished). Four layouts are understood (``LAYOUTS``); ``detect_layout`` picks the one that
matches and refuses to guess when several or none do. A plain Hydra sweep (``scripts/run.py -m``,
one directory per job number) is one of them: its runs are told apart by what the sweep varied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fileio import write_text_atomic

LAYOUTS = {  # name -> glob under the root
    "family/strategy/seed": "*/*/seed*/results.json",  # the benchmark's run directories
    "strategy/seed": "*/seed*/results.json",           # one family (read from the file), as results/compare_reach
    "saved": "*/*/seed*.json",                         # the copies written by save_copies
    "sweep": "[0-9]*/results.json",                    # a Hydra sweep (-m): <sweep dir>/<job number>/
}
#: Overrides that never name a condition of a sweep: the seed is the run axis, the rest is where runs go.
_NOT_CONDITIONS = ("seed", "run_dir", "hydra.", "cache.", "log_formats", "progress", "torch_threads")
REQUIRED = ("tasks", "phases", "R.cortical", "R.subcortical", "trained_rows.cortical",
            "trained_rows.subcortical", "parameters.subcortical", "parameters.cortical_actor")
_SEED = re.compile(r"^seed(\d+)(\.json)?$")


@dataclass(frozen=True)
class Run:
    """One finished run: where it sits in the benchmark and its parsed ``results.json``."""

    family: str
    strategy: str
    seed: int
    path: Path
    results: dict[str, Any] = field(repr=False)

    @property
    def slept(self) -> bool:
        """Whether any sleep phase trained the student; if none did, the student is untrained and
        every student metric is n/a (the strategy keeps its skill in the cortex)."""
        return any(p["kind"] == "sleep" and not p.get("skipped", False) for p in self.results["phases"])


def detect_layout(root: Path) -> str:
    """The one layout of ``LAYOUTS`` that has files under ``root``; ValueError if none or several."""
    found = [name for name, pattern in LAYOUTS.items() if next(Path(root).glob(pattern), None) is not None]
    if len(found) != 1:
        what = "no finished run" if not found else f"runs in several layouts {found}"
        raise ValueError(f"{root}: {what}; expected one of " +
                         "; ".join(f"{name}: <root>/{pattern}" for name, pattern in LAYOUTS.items()) +
                         " (pass --layout to choose)")
    return found[0]


def load_runs(root: str | Path, layout: str = "auto", family: str | None = None) -> list[Run]:
    """Every finished run under ``root``, sorted by (family, strategy, seed).

    The strategy and seed come from the path; the family from the path too, except in the
    ``strategy/seed`` layout, where it is ``family`` if given, else the file's ``family`` field.
    Raises ValueError naming the file and field when a file is unreadable, lacks a field the
    report reads, disagrees with its path about the seed, or duplicates another run.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"runs root {root} is not a directory")
    layout = detect_layout(root) if layout == "auto" else layout
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {['auto', *LAYOUTS]}, got {layout!r}")
    if layout == "sweep":
        return _sweep_runs(root)
    runs: dict[tuple[str, str, int], Run] = {}
    for path in sorted(root.glob(LAYOUTS[layout])):
        results = read_results(path)
        seed_part = path.parent if layout != "saved" else path
        seed = _seed_from_name(seed_part.name, path, results)
        strategy = (path.parent.parent if layout != "saved" else path.parent).name
        if layout == "strategy/seed":
            run_family = family or results.get("family")
            if not run_family:
                raise ValueError(f"{path}: field 'family' is missing; pass --family for this layout")
        else:
            run_family = (path.parents[2] if layout == "family/strategy/seed" else path.parents[1]).name
        key = (str(run_family), strategy, seed)
        if key in runs:
            raise ValueError(f"{path}: run {key} already loaded from {runs[key].path}")
        runs[key] = Run(str(run_family), strategy, seed, path, results)
    if not runs:
        raise ValueError(f"{root}: no finished run in layout {layout!r} (<root>/{LAYOUTS[layout]})")
    return [runs[key] for key in sorted(runs)]


def _sweep_runs(root: Path) -> list[Run]:
    """The jobs of a Hydra sweep: family and seed from each ``results.json``, and as strategy the
    one its sleeps record, followed by whatever else the sweep varied between the jobs (from each
    job's ``.hydra/overrides.yaml``), e.g. ``replay_distill [controller=residual]``."""
    paths = sorted(root.glob(LAYOUTS["sweep"]))
    chosen = {path: _job_overrides(path) for path in paths}
    varied = sorted({key for overrides in chosen.values() for key in overrides if key != "consolidation"
                     and len({str(o.get(key)) for o in chosen.values()}) > 1})
    runs: dict[tuple[str, str, int], Run] = {}
    for path in paths:
        results = read_results(path)
        for name in ("family", "seed"):
            if name not in results:
                raise ValueError(f"{path}: field {name!r} is missing")
        label = sleep_strategy(results)
        if varied:
            label += " [" + ", ".join(f"{key}={chosen[path].get(key, '-')}" for key in varied) + "]"
        key = (str(results["family"]), label, int(results["seed"]))
        if key in runs:
            raise ValueError(f"{path}: run {key} already loaded from {runs[key].path}")
        runs[key] = Run(*key, path, results)
    if not runs:
        raise ValueError(f"{root}: no finished run in layout 'sweep' (<root>/{LAYOUTS['sweep']})")
    return [runs[key] for key in sorted(runs)]


def _job_overrides(path: Path) -> dict[str, str]:
    """The command-line overrides of the job whose ``results.json`` is ``path`` (none recorded: {}),
    without those that cannot name a condition."""
    file = path.parent / ".hydra" / "overrides.yaml"
    listed = (yaml.safe_load(file.read_text()) or []) if file.is_file() else []
    pairs = (str(item).lstrip("+~").split("=", 1) for item in listed)
    return {key: value for key, value in (p for p in pairs if len(p) == 2) if not key.startswith(_NOT_CONDITIONS)}


def sleep_strategy(results: dict[str, Any]) -> str:
    """The strategy a run's sleep phases record (every sleep record names it, skipped or not);
    "unknown" for a run without sleep."""
    return next((p["strategy"] for p in results["phases"] if p["kind"] == "sleep" and "strategy" in p), "unknown")


def load_any(root: str | Path) -> list[Run]:
    """Every ``results.json`` and saved ``seed<k>.json`` anywhere under ``root``, whatever the
    folder names (used for the ABA-gap runs, whose gap is read from the protocol itself).

    The family and seed are the file's ``family`` and ``seed`` fields; the strategy is the one its
    sleep phases record (every sleep record names it, skipped or not), "unknown" without sleep.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"runs root {root} is not a directory")
    paths = sorted({*root.rglob("results.json"), *(p for p in root.rglob("seed*.json") if _SEED.match(p.name))})
    runs = []
    for path in paths:
        results = read_results(path)
        for name in ("family", "seed"):
            if name not in results:
                raise ValueError(f"{path}: field {name!r} is missing")
        runs.append(Run(str(results["family"]), sleep_strategy(results), int(results["seed"]), path, results))
    return runs


def read_results(path: str | Path) -> dict[str, Any]:
    """Parse one ``results.json`` and check the fields the report reads (``REQUIRED``) and their
    shapes: one R row per test phase, one column and one trained row per task."""
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable results.json ({error})") from error
    if not isinstance(results, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(results).__name__}")
    for dotted in REQUIRED:
        node: Any = results
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"{path}: field {dotted!r} is missing")
            node = node[part]
    for i, phase in enumerate(results["phases"]):
        if not isinstance(phase, dict) or phase.get("kind") not in ("wake", "sleep", "test"):
            raise ValueError(f"{path}: field 'phases[{i}].kind' must be wake, sleep or test")
    n_tasks, n_tests = len(results["tasks"]), sum(p["kind"] == "test" for p in results["phases"])
    for policy in ("cortical", "subcortical"):
        matrix = results["R"][policy]
        if len(matrix) != n_tests or any(len(row) != n_tasks for row in matrix):
            raise ValueError(f"{path}: field 'R.{policy}' must have {n_tests} rows (one per test phase) of "
                             f"{n_tasks} scores (one per task), got {[len(row) for row in matrix]}")
        if len(results["trained_rows"][policy]) != n_tasks:
            raise ValueError(f"{path}: field 'trained_rows.{policy}' must have {n_tasks} entries (one per task)")
    return results


def row_labels(results: dict[str, Any]) -> list[str]:
    """One label per row of R: the phase the test followed, as ``<name>#<position in phases>``
    (the keys of ``timings``; a protocol has several "sleep" phases); "start" if none."""
    labels, before = [], "start"
    for position, phase in enumerate(results["phases"]):
        if phase["kind"] == "test":
            labels.append(before)
        else:
            before = f"{phase.get('name', phase['kind'])}#{phase.get('index', position)}"
    return labels


def row_after(results: dict[str, Any], phase_index: int) -> int | None:
    """Row of R recorded by the first test after phase ``phase_index``; None if there is none."""
    rows = [i for i, p in enumerate(results["phases"]) if p["kind"] == "test"]
    return next((row for row, i in enumerate(rows) if i > phase_index), None)


def row_before(results: dict[str, Any], phase_index: int) -> int | None:
    """Row of R recorded by the last test before phase ``phase_index``; None if there is none."""
    rows = [i for i, p in enumerate(results["phases"]) if p["kind"] == "test"]
    before = [row for row, i in enumerate(rows) if i < phase_index]
    return before[-1] if before else None


def first_wake(results: dict[str, Any], context: str) -> int | None:
    """Position in ``phases`` of the first wake of ``context``; None if it is never learned."""
    return next((i for i, p in enumerate(results["phases"]) if p["kind"] == "wake" and p.get("context") == context),
                None)


def aba_gap(results: dict[str, Any]) -> int | None:
    """Sleep phases between the first wake of the first task and the first wake of the second
    (the k of the ABA-gap paradigm); None if the protocol does not learn both in that order."""
    tasks = results["tasks"]
    if len(tasks) < 2:
        return None
    a, b = first_wake(results, tasks[0]), first_wake(results, tasks[1])
    if a is None or b is None or b < a:
        return None
    return sum(p["kind"] == "sleep" for p in results["phases"][a + 1:b])


def save_copies(runs: Iterable[Run], out: str | Path,
                folders: Callable[[Run], Sequence[str]] | None = None) -> list[Path]:
    """Copy each run's ``results.json`` verbatim to ``out/<folders>/seed<k>.json``, by default
    ``out/<family>/<strategy>/seed<k>.json`` (the ``saved`` layout); atomic writes.

    A results.json holds R, the phase records, the wake learning curves and the sleep loss and
    gain curves in 20-30 kB, and some figure reads each of them, so nothing is dropped.
    Returns the paths written (a run already at its target is left alone).
    """
    written = []
    for run in runs:
        parts = folders(run) if folders is not None else (run.family, run.strategy)
        target = Path(out, *parts, f"seed{run.seed}.json")
        if not (target.is_file() and target.resolve() == run.path.resolve()):
            write_text_atomic(target, run.path.read_text())
        written.append(target)
    return written


def _seed_from_name(name: str, path: Path, results: dict[str, Any]) -> int:
    match = _SEED.match(name)
    if match is None:
        raise ValueError(f"{path}: expected a seed<k> name, got {name!r}")
    seed = int(match.group(1))
    if "seed" in results and int(results["seed"]) != seed:
        raise ValueError(f"{path}: field 'seed' is {results['seed']} but the path says seed {seed}")
    return seed


def worker_minutes(runs: Iterable[Run]) -> dict[str, float]:
    """Minutes of worker time the runs' phases took, per family: each phase's recorded wall time,
    summed over the runs (a phase taken from the cache records about 0 s, so a shared wake counts
    once, in the run that computed it). Divided by the workers it bounds the wall time of the
    grid from below on a machine that ran nothing else."""
    minutes: dict[str, float] = {}
    for run in runs:
        seconds = sum(float(phase.get("seconds") or 0.0) for phase in run.results["phases"])
        minutes[run.family] = minutes.get(run.family, 0.0) + seconds / 60
    return dict(sorted(minutes.items()))
