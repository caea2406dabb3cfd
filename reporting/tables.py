"""Markdown for the report: per family, the IQM and mean tables with their intervals, the
probability-of-improvement table, the timing line, and the whole README block.

Rows are (strategy, policy). A strategy that sleeps gets two rows, its student (where it
keeps the skill: the policy the strategy is about) and its cortex (the teacher the student
was distilled from, so the student's gain or loss against it is read off the same table);
a strategy that never slept gets its cortex row only. Columns are the metrics of
``tidy.METRICS``; a metric that does not apply to a policy (forward transfer of the student,
which never learns in wake; fidelity and parameter ratio of the cortex) shows "—", a metric
undefined in every run "n/a".
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reporting.tidy import METRICS, POLICY_METRICS

DEFAULT_ORDER = ("none", "distill", "replay_distill", "gated", "gated_shuffled", "full", "scratch_student",
                 "awake_control", "l2", "ewc", "online_ewc", "mas", "clear", "progress_compress", "multitask")
FORMATS = {"parameter_ratio": ".3f"}  # every other metric: .2f
POI_METRICS = ("final_first", "bounded_average_performance")   # higher is better on both


def strategy_order(names: Iterable[str], preferred: Sequence[str] | None = None) -> list[str]:
    """``names`` in the order of ``preferred`` (default ``DEFAULT_ORDER``), others after, sorted."""
    names = list(dict.fromkeys(names))
    preferred = list(preferred or DEFAULT_ORDER)
    return [n for n in preferred if n in names] + sorted(n for n in names if n not in preferred)


def policies_shown(summary: pd.DataFrame, family: str, strategy: str) -> list[str]:
    """["student", "cortex"] if any run of the strategy trained its student, else ["cortex"]."""
    rows = summary[(summary["family"] == family) & (summary["strategy"] == strategy)]
    student = rows[rows["policy"] == "student"]
    return ["student", "cortex"] if (student["n"] > 0).any() else ["cortex"]


def estimate_table(summary: pd.DataFrame, family: str, aggregate: str, order: Sequence[str] | None = None) -> str:
    """Markdown: ``aggregate`` ("iqm" or "mean") [95% CI] per (strategy, policy) and metric."""
    here = summary[summary["family"] == family]
    header = ["strategy", "policy", "runs", *METRICS.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for strategy in strategy_order(here["strategy"], order):
        for policy in policies_shown(summary, family, strategy):
            cells = here[(here["strategy"] == strategy) & (here["policy"] == policy)].set_index("metric")
            runs = int(cells["runs"].max()) if len(cells) else 0
            row = [strategy, policy, str(runs)]
            for metric in METRICS:
                if metric not in POLICY_METRICS[policy] or metric not in cells.index:
                    row.append("—")
                    continue
                cell = cells.loc[metric]
                row.append(_estimate(cell[aggregate], cell[f"{aggregate}_low"], cell[f"{aggregate}_high"],
                                     int(cell["n"]), int(cell["runs"]), FORMATS.get(metric, ".2f")))
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def improvement_table(improvements: pd.DataFrame, family: str, order: Sequence[str] | None = None) -> str:
    """Markdown: P(X > other) [95% CI] per other strategy and metric, X and its policy named in
    the header; "" when X is not in the family."""
    here = improvements[improvements["family"] == family]
    if here.empty:
        return ""
    x, policy = here["strategy"].iloc[0], here["policy"].iloc[0]
    metrics = list(dict.fromkeys(here["metric"]))
    header = ["other strategy (policy)", *(f"P({x} {policy} > other) on {METRICS[m]}" for m in metrics)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for other in strategy_order(here["other"], order):
        rows = here[here["other"] == other].set_index("metric")
        cells = [f"{other} ({rows['other_policy'].iloc[0]})"]
        for metric in metrics:
            r = rows.loc[metric]
            cells.append(_estimate(r["probability"], r["low"], r["high"], int(min(r["n"], r["other_n"])),
                                   int(min(r["n"], r["other_n"])), ".2f"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def read_timing(path: str | Path | None) -> dict[str, Any] | None:
    """The benchmark's ``timing.json`` (scripts/benchmark.py: ``minutes`` of the whole grid and,
    when timed, ``cache_timing`` of a small grid with and without the phase cache), or None if no
    path is given or the file does not exist yet. ValueError naming the file if it is not a JSON object."""
    if path is None or not Path(path).is_file():
        return None
    try:
        timing = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: timing file is not valid JSON ({error})") from error
    if not isinstance(timing, dict):
        raise ValueError(f"{path}: timing file must hold a JSON object, got {type(timing).__name__}")
    return timing


def timing_line(timing: dict[str, Any] | None) -> str:
    """What the benchmark measured, as it wrote it ("n/a" when absent): the grid's wall time on its
    workers with the cache, the small grid's time without and with the cache, and, when
    scripts/reproduce.sh ran the report (``--started``), the time from the benchmark's start to
    the report's tables."""
    if not timing:
        return "Benchmark time: n/a."
    def number(value: Any) -> str:
        return "n/a" if value is None else f"{value:.1f}"
    line = (f"Benchmark time: {number(timing.get('minutes'))} min for {timing.get('runs', 'n/a')} runs on "
            f"{timing.get('jobs', 'n/a')} worker(s) with the phase cache" if timing.get("minutes") is not None
            else "Benchmark time: n/a (no wall time of the whole grid)")
    cache = timing.get("cache_timing")
    if cache:
        line += (f"; the cache on a smaller grid ({cache.get('grid')}) in the same run: "
                 f"{number(cache.get('minutes_without_cache'))} min without, "
                 f"{number(cache.get('minutes_with_cache'))} min with it")
    if timing.get("worker_minutes"):
        line += ("; worker time of the runs' phases (each phase's wall time, summed; cached phases count once): "
                 + ", ".join(f"{family} {number(m)} min" for family, m in timing["worker_minutes"].items()))
    if timing.get("end_to_end_minutes") is not None:
        line += (f"; end to end (scripts/reproduce.sh after its setup: the cache timing, the runs and this "
                 f"report) {number(timing['end_to_end_minutes'])} min")
    return line + "."


def legend(reps: int, seed: int) -> str:
    """What the cells of ``estimate_table`` and ``improvement_table`` mean."""
    return (f"Cells: estimate [95% CI] over seeds (stratified bootstrap over runs, rliable, {reps} replications, "
            f"bootstrap seed {seed}; never over episodes); (n/runs) when the metric is defined in n runs only; "
            "— not applicable to the policy; n/a undefined in every run. A, B: the protocol's first and second "
            "tasks. Scores are bounded (normalised, clipped to [-1, 1]) except in A kept (ratio), the raw ratio of "
            "A at the end to A learned, n/a where A learned < 0.5. A learned, B learned: the score where the "
            "policy's training of the task ended (the cortex after its wake, the student after the next sleep); "
            "A lost = A learned - A at the end. FT B: bounded forward transfer of B, its learning curve against "
            "A's from-scratch curve in the same run over the steps A took to reach 0.9, in [-1, 1]. Student rows "
            "only for strategies whose sleep trained the student. Probability of improvement: each strategy judged "
            "by its student if it sleeps, else its cortex.")


def report(summary: pd.DataFrame, improvements: pd.DataFrame, figures: dict[str, list[Path]], link_base: Path,
           command: str, reps: int, seed: int, timing: dict[str, Any] | None,
           order: Sequence[str] | None = None, notes: Sequence[str] = (), findings: str = "") -> str:
    """The whole markdown report (README block body): the command that rebuilds it, the timing
    line, what the numbers say (``findings``, reporting/findings.py), then per family the IQM,
    mean and improvement tables and links to its figures (``figures``: section name -> PNG
    paths, linked relative to ``link_base``)."""
    parts = [f"Rebuilt from saved runs by `{command}` (do not edit by hand).", "", timing_line(timing), ""]
    if findings:
        parts += [findings, ""]
    parts += [legend(reps, seed)]
    families = list(dict.fromkeys(summary["family"]))
    for family in sorted(families):
        parts += ["", f"**{family}**: IQM [95% CI]", "", estimate_table(summary, family, "iqm", order),
                  "", f"**{family}**: mean [95% CI]", "", estimate_table(summary, family, "mean", order)]
        poi = improvement_table(improvements, family, order)
        if poi:
            parts += ["", f"**{family}**: probability of improvement", "", poi]
        parts += _links(figures.get(family, []), link_base)
    for section in [s for s in figures if s not in families]:
        parts += ["", f"**{section}**"] + _links(figures[section], link_base)
    parts += [f"\n{note}" for note in notes]
    return "\n".join(parts)


def _links(paths: Sequence[Path], base: Path) -> list[str]:
    if not paths:
        return []
    links = [f"[{Path(p).stem}]({Path(os.path.relpath(p, base)).as_posix()})" for p in paths]
    return ["", "Figures: " + " · ".join(links)]


def _estimate(point: float, low: float, high: float, n: int, runs: int, spec: str) -> str:
    if n == 0 or not math.isfinite(point):
        return "n/a"
    text = f"{point:{spec}} [{low:{spec}}, {high:{spec}}]"
    return text + (f" ({n}/{runs})" if n < runs else "")
