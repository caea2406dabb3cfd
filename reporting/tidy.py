"""Per-run metrics as tidy frames, one row per (run, policy, metric): ``runs.csv`` for the
benchmark and ``aba.csv`` for the ABA-gap paradigm. Every table and every metric-only figure
is rebuilt from these files alone.

Metrics are recomputed from each run's saved R matrices with the current definitions
(``consolidation.results.metrics_of``), never read from the metrics a run saved under older
code. A strategy whose sleep phases were all skipped has an untrained student: its student
values are NaN (n/a), whatever its R matrix says.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from consolidation import metrics
from consolidation.results import metrics_of, savings_by_context
from fileio import write_text_atomic
from reporting.runs import Run, aba_gap, first_wake, row_after, row_before

COLUMNS = ["family", "strategy", "seed", "slept", "policy", "metric", "value"]
ABA_COLUMNS = ["family", "strategy", "gap", "seed", "policy", "metric", "value"]
POLICIES = {"student": "subcortical", "cortex": "cortical"}  # report name -> key in results.json
METRICS = {  # key in runs.csv -> column header; "A" and "B" are the protocol's first and second tasks
    "average_performance": "avg perf",
    "average_forgetting": "forgetting",
    "retention_first": "retention A",
    "forward_transfer_second": "FT B",
    "fidelity_first": "fidelity A",
    "parameter_ratio": "param ratio",
}
POLICY_METRICS = {  # which metric means something for which policy
    "student": ("average_performance", "average_forgetting", "retention_first", "fidelity_first", "parameter_ratio"),
    # forward transfer is measured on wake learning curves, and only the cortex learns in wake
    "cortex": ("average_performance", "average_forgetting", "retention_first", "forward_transfer_second"),
}
ABA_METRICS = {
    "retention_after_second": "retention of A after B",
    "savings_first": "savings on relearning A",
}
FT_POINTS = 50


def run_metrics(run: Run) -> list[dict[str, Any]]:
    """Rows of ``COLUMNS`` for one run: every metric of ``POLICY_METRICS`` for both policies.

    - ``average_performance``, ``average_forgetting``: ``metrics_of`` (mean of R's last row;
      mean forgetting of the tasks learned before the last one);
    - ``retention_first``: R[end, A] / R[end of A's training, A] (``metrics.retention``);
    - ``fidelity_first``: student / cortex score on A at the student's row for A;
    - ``parameter_ratio``: student / cortical actor parameters;
    - ``forward_transfer_second``: ``forward_transfer_second`` below.
    """
    results = run.results
    computed = metrics_of(results)
    first = results["tasks"][0]
    values = {
        "cortex": {
            "average_performance": computed["cortical"]["average_performance"],
            "average_forgetting": computed["cortical"]["average_forgetting"],
            "retention_first": computed["cortical"]["retention"][first],
            "forward_transfer_second": forward_transfer_second(results),
        },
        "student": {
            "average_performance": computed["subcortical"]["average_performance"],
            "average_forgetting": computed["subcortical"]["average_forgetting"],
            "retention_first": computed["subcortical"]["retention"][first],
            "fidelity_first": computed["fidelity"][first],
            "parameter_ratio": computed["parameter_ratio"],
        },
    }
    slept = run.slept
    rows = []
    for policy, metric_names in POLICY_METRICS.items():
        for metric in metric_names:
            value = values[policy][metric] if (slept or policy == "cortex") else math.nan
            rows.append({"family": run.family, "strategy": run.strategy, "seed": run.seed, "slept": slept,
                         "policy": policy, "metric": metric, "value": _float(value)})
    return rows


def forward_transfer_second(results: dict[str, Any], points: int = FT_POINTS) -> float:
    """Continual World's forward transfer of the second task B (``metrics.forward_transfer``):
    (AUC of B's learning curve in the protocol - AUC_ref) / (1 - AUC_ref).

    The reference should be B learned alone from scratch; a benchmark run never does that, but
    its first wake learns A from a fresh network, so A's curve in the same run stands in for it.
    This equates the two contexts' difficulty from scratch, which holds for the mirror-image
    contexts of each family (curl clockwise vs counter-clockwise, tilt left vs right); read
    FT B as "learning B after A vs learning A from nothing". Both curves (training-episode
    scores, consolidation/curves.py) are compared over the steps both cover (B's wake is often
    longer), resampled at ``points`` equally spaced steps. NaN when a curve is missing or empty,
    the two do not overlap, or AUC_ref >= 1 (FT undefined).
    """
    tasks = results["tasks"]
    if len(tasks) < 2:
        return math.nan
    a, b = first_wake(results, tasks[0]), first_wake(results, tasks[1])
    if a is None or b is None or b < a:
        return math.nan
    reference, curve = results["phases"][a].get("curve"), results["phases"][b].get("curve")
    if not reference or not curve or not reference.get("steps") or not curve.get("steps"):
        return math.nan
    low = max(reference["steps"][0], curve["steps"][0])
    high = min(reference["steps"][-1], curve["steps"][-1])
    if high <= low:
        return math.nan
    grid = np.linspace(low, high, points)
    try:
        return metrics.forward_transfer(np.interp(grid, curve["steps"], curve["score"]),
                                        np.interp(grid, reference["steps"], reference["score"]))
    except ValueError:
        return math.nan


def aba_metrics(run: Run) -> list[dict[str, Any]]:
    """Rows of ``ABA_COLUMNS`` for one ABA-gap run (none if the protocol does not learn A then B):

    - ``retention_after_second`` per policy: A's score in the test after B's first wake over A's
      score in the last test before it; the student's is NaN when no sleep trained it before B
      (gap 0: there is nothing of A in it to retain), and NaN when the score before B is at or
      below the baseline (as ``metrics.retention``);
    - ``savings_first`` (cortex, which relearns A in wake): ``results.savings_by_context``
      recomputed from the wake learning curves: 1 = relearned at once, 0 = no faster.
    """
    results = run.results
    gap = aba_gap(results)
    if gap is None:
        return []
    tasks, phases = results["tasks"], results["phases"]
    b = first_wake(results, tasks[1])
    after, before = row_after(results, b), row_before(results, b)
    student_trained = any(p["kind"] == "sleep" and not p.get("skipped", False) for p in phases[:b])
    rows = []
    for policy, key in POLICIES.items():
        score = np.asarray(results["R"][key], dtype=float)[:, 0]
        value = math.nan
        if after is not None and before is not None and (policy == "cortex" or student_trained):
            value = score[after] / score[before] if score[before] > 0 else math.nan
        rows.append({"policy": policy, "metric": "retention_after_second", "value": _float(value)})
    protocol = SimpleNamespace(phases=[SimpleNamespace(kind=p["kind"], context=p.get("context")) for p in phases])
    savings = savings_by_context(protocol, phases).get(tasks[0], {}).get("savings", math.nan)
    rows.append({"policy": "cortex", "metric": "savings_first", "value": _float(savings)})
    return [{"family": run.family, "strategy": run.strategy, "gap": gap, "seed": run.seed, **row} for row in rows]


def tidy_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """``run_metrics`` of every run, as one frame with ``COLUMNS``."""
    return pd.DataFrame([row for run in runs for row in run_metrics(run)], columns=COLUMNS)


def aba_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """``aba_metrics`` of every run, as one frame with ``ABA_COLUMNS``."""
    return pd.DataFrame([row for run in runs for row in aba_metrics(run)], columns=ABA_COLUMNS)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` without its index, atomically."""
    write_text_atomic(path, frame.to_csv(index=False))


def read_csv(path: str | Path, columns: list[str] = COLUMNS) -> pd.DataFrame:
    """Read a frame written by ``write_csv``; ValueError naming the file and the missing columns,
    or the column whose values are not numbers."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    frame = pd.read_csv(path, float_precision="round_trip")  # values exactly as written
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: columns {missing} are missing (expected {columns})")
    for name in ("seed", "gap", "value"):
        if name in columns and not pd.api.types.is_numeric_dtype(frame[name]):
            raise ValueError(f"{path}: column {name!r} must hold numbers")
    if "slept" in columns:
        frame["slept"] = frame["slept"].astype(str).str.lower().map({"true": True, "false": False})
        if frame["slept"].isna().any():
            raise ValueError(f"{path}: column 'slept' must hold True or False")
    return frame[columns]


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)
