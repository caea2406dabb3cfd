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
    # every score is on the bounded scale (normalised, clipped to [-1, 1]) unless said otherwise
    "bounded_average_performance": "avg perf",
    "learned_first": "A learned",           # A's score where its training ended
    "learned_second": "B learned",          # B's score where its training ended: keeping A by not learning B shows here
    "retention_drop_first": "A lost",       # A learned - A at the end (a difference)
    "retention_ratio_first": "A kept (ratio)",   # raw A at the end / A learned, n/a when A learned < 0.5
    "final_first": "A at end",
    "bounded_forward_transfer_second": "FT B",
    "fidelity_first": "fidelity A",
    "parameter_ratio": "param ratio",
    "max_raw_score": "max raw",             # highest raw score in R: above 1.05 the reference is no ceiling
}
SHARED_METRICS = ("bounded_average_performance", "learned_first", "learned_second", "retention_drop_first",
                  "retention_ratio_first", "final_first", "max_raw_score")
POLICY_METRICS = {  # which metric means something for which policy
    "student": (*SHARED_METRICS, "fidelity_first", "parameter_ratio"),
    # forward transfer and plasticity are measured on wake learning curves, and only the cortex learns in wake
    "cortex": (*SHARED_METRICS, "bounded_forward_transfer_second", "steps_to_learn_first", "steps_to_learn_second"),
}
# in runs.csv and the findings, not in the tables: training steps, not scores
CURVE_METRICS = ("steps_to_learn_first", "steps_to_learn_second")
ABA_METRICS = {
    "retention_after_second": "retention of A after B",
    "savings_first": "savings on relearning A",
}


def run_metrics(run: Run) -> list[dict[str, Any]]:
    """Rows of ``COLUMNS`` for one run: every metric of ``POLICY_METRICS`` for both policies.

    From ``metrics_of`` (consolidation/results.py), per policy: ``bounded_average_performance``
    (mean of R's last row, clipped to [-1, 1]); ``learned_first`` / ``learned_second`` (bounded
    score of A / B at the row where the policy's training of it ended: the cortex after its
    wake, the student after the sleep that follows); ``retention_drop_first`` (bounded A learned
    minus bounded A at the end); ``retention_ratio_first`` (raw A at the end over A learned, n/a
    below 0.5); ``final_first`` (bounded A at the end); ``max_raw_score`` (the highest raw score
    anywhere in the policy's R: a trained policy above about 1 beats the reference). Student
    only: ``fidelity_first`` (student / cortex score on A at the student's row for A) and
    ``parameter_ratio``. Cortex only: ``bounded_forward_transfer_second`` and
    ``steps_to_learn_first`` / ``steps_to_learn_second`` (below).
    """
    results = run.results
    computed = metrics_of(results)
    first, second = results["tasks"][0], results["tasks"][1] if len(results["tasks"]) > 1 else None
    values: dict[str, dict[str, Any]] = {}
    for policy, key in POLICIES.items():
        mine = computed[key]
        final = np.asarray(results["R"][key], dtype=float)[-1, 0]
        values[policy] = {
            "bounded_average_performance": mine["bounded_average_performance"],
            "learned_first": mine["learned"][first],
            "learned_second": mine["learned"][second] if second else math.nan,
            "retention_drop_first": mine["retention_drop"][first],
            "retention_ratio_first": mine["retention_ratio"][first],
            "final_first": metrics.bounded_score(final),
            "max_raw_score": float(np.nanmax(np.asarray(results["R"][key], dtype=float))),
        }
    values["student"].update(fidelity_first=computed["fidelity"][first], parameter_ratio=computed["parameter_ratio"])
    values["cortex"]["bounded_forward_transfer_second"] = bounded_forward_transfer_second(results)
    values["cortex"].update(zip(CURVE_METRICS, steps_to_learn(results), strict=True))
    slept = run.slept
    rows = []
    for policy, metric_names in POLICY_METRICS.items():
        for metric in metric_names:
            value = values[policy][metric] if (slept or policy == "cortex") else math.nan
            rows.append({"family": run.family, "strategy": run.strategy, "seed": run.seed, "slept": slept,
                         "policy": policy, "metric": metric, "value": _float(value)})
    return rows


def bounded_forward_transfer_second(results: dict[str, Any]) -> float:
    """Forward transfer of the second task B on the bounded scale (``metrics.bounded_forward_transfer``):
    B's learning curve in the protocol against A's first wake as the from-scratch reference, over
    the steps A's curve needed to reach 0.9, divided by 2 so that it lies in [-1, 1].

    A's curve stands in for B learned from scratch, which a benchmark run never does: this
    equates the two contexts' difficulty, which holds for the mirror-image contexts of each
    family (curl clockwise vs counter-clockwise, tilt left vs right). Curves are
    training-episode scores (consolidation/curves.py), steps since each phase began. NaN when a
    curve is missing or empty, A's curve never reaches 0.9, or B's wake ends before that step.
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
    return metrics.bounded_forward_transfer(curve["steps"], curve["score"], reference["steps"], reference["score"])


def steps_to_learn(results: dict[str, Any], threshold: float = 0.9) -> tuple[float, float]:
    """Training steps A's first wake (from scratch) and B's first wake (from A's weights) took to
    reach ``threshold`` on their training curves, each counted from its wake's start; NaN when a
    curve never reaches it or is missing. Their ratio is the plasticity study's measure (README,
    "Plasticity of the cortex") with A's curve standing in for B from scratch, as in
    ``bounded_forward_transfer_second``."""
    steps = []
    for task in results["tasks"][:2]:
        index = first_wake(results, task)
        curve = results["phases"][index].get("curve") if index is not None else None
        steps.append(metrics.steps_to_threshold(curve["steps"], curve["score"], threshold)
                     if curve and curve.get("steps") else math.nan)
    return (*steps, *[math.nan] * (2 - len(steps)))


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
