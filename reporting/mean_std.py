"""The short strategy comparison: mean ± std over seeds per strategy of a few headline columns
(cortex and student side by side, the cortex's zero-shot score on B, wall time), read from
finished runs (never trains). It is the README's ``compare`` block and the ``table.md`` and
``runs.csv`` of results/compare_reach*; the benchmark report (``tables``) gives the same metrics
with bootstrap intervals over seeds instead.

Each seed is one run: spreads are over seeds, never over evaluation episodes; std has ddof=1
(0.00 with one seed). Metrics are recomputed from the saved R matrices with the current
definitions (``consolidation.results.metrics_of``). A strategy whose sleep never trained its
student shows n/a in the student columns and fidelity; a value no run defines shows n/a.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from consolidation import metrics
from consolidation.results import metrics_of
from reporting.runs import Run
from reporting.tables import strategy_order

Reader = Callable[[dict[str, Any], dict[str, Any]], Any]  # (results.json, recomputed metrics) -> value
COLUMNS: dict[str, Reader] = {  # bounded scores (normalised, clipped to [-1, 1]), as in the benchmark report
    "avg perf (cortex)": lambda r, m: m["cortical"]["bounded_average_performance"],
    "avg perf (student)": lambda r, m: m["subcortical"]["bounded_average_performance"],
    "B learned (cortex)": lambda r, m: m["cortical"]["learned"][r["tasks"][1]],
    "B learned (student)": lambda r, m: m["subcortical"]["learned"][r["tasks"][1]],
    "A lost (cortex)": lambda r, m: m["cortical"]["retention_drop"][r["tasks"][0]],
    "A lost (student)": lambda r, m: m["subcortical"]["retention_drop"][r["tasks"][0]],
    "zero-shot B (cortex)": lambda r, m: metrics.bounded_score(zero_shot_second(r)),
    "fidelity A": lambda r, m: m["fidelity"][r["tasks"][0]],
    "wall time (min)": lambda r, m: sum(r["timings"].values()) / 60,
}
STUDENT_COLUMNS = ("avg perf (student)", "B learned (student)", "A lost (student)", "fidelity A")
KEYS = ["family", "strategy", "seed"]


def zero_shot_second(results: dict[str, Any]) -> float:
    """The cortex's score on the second task in the last test before B was trained: what it
    carries over from the first. NaN with one task, or when B is trained before any test."""
    if len(results["tasks"]) < 2:
        return math.nan
    row = results["trained_rows"]["cortical"][1]
    return math.nan if row is None else metrics.score_before_training(results["R"]["cortical"], 1, row)


def run_row(run: Run) -> dict[str, Any]:
    """``KEYS`` and every column of ``COLUMNS`` for one run (NaN where undefined)."""
    computed = metrics_of(run.results)
    row: dict[str, Any] = {"family": run.family, "strategy": run.strategy, "seed": run.seed}
    for name, read in COLUMNS.items():
        if name in STUDENT_COLUMNS and not run.slept:
            row[name] = math.nan
            continue
        try:
            value = read(run.results, computed)
        except (KeyError, IndexError, TypeError):
            value = None
        row[name] = math.nan if value is None else float(value)
    return row


def runs_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per run (``runs.csv``): ``KEYS`` then the columns of ``COLUMNS``."""
    return pd.DataFrame([run_row(run) for run in runs], columns=[*KEYS, *COLUMNS])


def table(frame: pd.DataFrame, order: Sequence[str] | None = None) -> str:
    """Markdown: mean ± std over seeds per strategy and column, with the number of seeds; one
    table per family, each under a bold family heading when there are several."""
    families = sorted(set(frame["family"]))
    parts = []
    for family in families:
        here = frame[frame["family"] == family]
        lines = ["| strategy | seeds | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
        for strategy in strategy_order(here["strategy"], order):
            group = here[here["strategy"] == strategy]
            cells = [_mean_std(group[name].to_numpy(dtype=float)) for name in COLUMNS]
            lines.append(f"| {strategy} | {len(group)} | " + " | ".join(cells) + " |")
        parts.append(("" if len(families) == 1 else f"**{family}**\n\n") + "\n".join(lines))
    return "\n\n".join(parts)


def readme_body(text: str, experiment: str) -> str:
    """The README block: the experiment preset the runs used, then the table."""
    return (f"experiment `{experiment}`, mean ± std over seeds; bounded scores (normalised, clipped to [-1, 1]); "
            f"A lost = A where its training ended minus A at the end\n\n{text}")


def experiment_of(run: Run) -> str | None:
    """The ``experiment=`` override a run directory was started with (its .hydra/overrides.yaml);
    None when it has none, as the saved copies under results/ (results.json alone)."""
    path = run.path.parent / ".hydra" / "overrides.yaml"
    if run.path.name != "results.json" or not path.is_file():
        return None
    overrides = yaml.safe_load(path.read_text()) or []
    return next((str(o).split("=", 1)[1] for o in overrides if str(o).startswith("experiment=")), None)


def is_runs_csv(path: str | Path) -> bool:
    """Whether ``path`` is missing or a ``runs.csv`` of this table (and so may be overwritten):
    the benchmark report writes another ``runs.csv`` (tidy, one row per metric)."""
    path = Path(path)
    if not path.is_file():
        return True
    with path.open() as file:
        header = file.readline().rstrip("\n").split(",")
    return "strategy" in header and next(iter(COLUMNS)) in header


def _mean_std(values: np.ndarray) -> str:
    values = values[np.isfinite(values)]
    if not len(values):
        return "n/a"
    return f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.2f}"
