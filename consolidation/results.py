"""From test rows to ``results.json``: the R matrices of both policies and the metrics over them.

Pure functions of what the phases recorded, so a results file can be rebuilt or checked
without re-running anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from consolidation import metrics
from consolidation.protocol import Protocol

POLICIES = ("cortical", "subcortical")


def performance_matrices(rows: list[dict[str, Any]], tasks: list[str]) -> dict[str, np.ndarray]:
    """R[policy][i, j]: normalised score on task j at test row i."""
    return {p: np.array([[row[p][t]["score"] for t in tasks] for row in rows]) for p in POLICIES}


def trained_rows(protocol: Protocol, tasks: list[str]) -> dict[str, list[int | None]]:
    """Row of R where each task's own training ended: the first test after its last wake (cortex),
    the first test after the sleep that follows that wake (student); None if there is none."""
    phases = list(protocol)
    cortical: list[int | None] = []
    subcortical: list[int | None] = []
    for label in tasks:
        wake_at = max(i for i, p in enumerate(phases) if p.kind == "wake" and p.context == label)
        cortical.append(_test_row_after(phases, wake_at))
        sleep_at = next((i for i, p in enumerate(phases) if i > wake_at and p.kind == "sleep"), None)
        subcortical.append(None if sleep_at is None else _test_row_after(phases, sleep_at))
    return {"cortical": cortical, "subcortical": subcortical}


def summarise(matrices: dict[str, np.ndarray], trained: dict[str, list[int | None]], tasks: list[str],
              student_parameters: int, cortical_parameters: int, last_learned: str | None = None) -> dict[str, Any]:
    """Headline metrics of both policies (consolidation/metrics.py definitions).

    Per task: ``learned`` (bounded score at the row where its training ended), ``retention_drop``
    (bounded score lost from that row to the end), ``retention_ratio`` (end / trained, n/a when
    the trained score is below 0.5) and the legacy ``retention`` ratio (n/a at or below 0).

    Average forgetting and backward transfer leave out ``last_learned``, the context of the
    protocol's last wake: nothing was learned after it, so its "forgetting" is only the change
    a trailing sleep or test makes, and counting it would dilute the average (the same rule as
    leaving out the final task in Continual World-style averages).
    """
    summary: dict[str, Any] = {}
    for policy, r_matrix in matrices.items():
        rows_of = trained[policy]
        earlier = [None if task == last_learned else row for task, row in zip(tasks, rows_of, strict=True)]
        summary[policy] = {
            "average_performance": metrics.average_performance(r_matrix),
            "average_forgetting": metrics.average_forgetting(r_matrix, earlier),
            "backward_transfer": metrics.backward_transfer(r_matrix, earlier),
            "forgetting": [float(v) for v in metrics.forgetting_per_task(r_matrix, rows_of)],
            "retention": {t: (metrics.retention(r_matrix, j, rows_of[j]) if rows_of[j] is not None
                              else float("nan")) for j, t in enumerate(tasks)},
            # on the bounded scale (scores clipped to [-1, 1]), for averages over tasks and seeds
            "bounded_average_performance": metrics.average_performance(metrics.bounded_score(r_matrix)),
            "learned": _per_task(metrics.learned_score, r_matrix, tasks, rows_of),
            "retention_drop": _per_task(metrics.retention_drop, metrics.bounded_score(r_matrix), tasks, rows_of),
            "retention_ratio": _per_task(metrics.retention_ratio, r_matrix, tasks, rows_of),
        }
    summary["fidelity"] = {
        task: (float("nan") if row is None else
               metrics.distillation_fidelity(matrices["subcortical"][row, j], matrices["cortical"][row, j]))
        for j, (task, row) in enumerate(zip(tasks, trained["subcortical"], strict=True))}
    summary["parameter_ratio"] = metrics.parameter_ratio(student_parameters, cortical_parameters)
    return summary


def _per_task(metric, r_matrix: np.ndarray, tasks: list[str], rows: list[int | None]) -> dict[str, float]:
    """``metric(R, task index, trained row)`` per task; NaN for a task this policy never trained."""
    return {t: (float(metric(r_matrix, j, row)) if row is not None else float("nan"))
            for j, (t, row) in enumerate(zip(tasks, rows, strict=True))}


SAVINGS_THRESHOLD_FRACTION = 0.8


def savings_by_context(protocol: Protocol, phases: list[dict[str, Any]],
                       fraction: float = SAVINGS_THRESHOLD_FRACTION) -> dict[str, dict[str, Any]]:
    """Savings (DESIGN.md section 4: steps to relearn a context vs steps to learn it first), for
    every context that has two or more wake phases in the protocol.

    From the learning curves of the wake records (``record["curve"]``: training-episode scores
    against steps since the phase began, consolidation/curves.py): the threshold is ``fraction``
    (default 0.8) of the score the context's first wake ended with (the last point of its
    curve); ``steps_first`` and ``steps_relearn`` are the steps the first and the second wake
    of the context took to reach it (``metrics.steps_to_threshold``, so at the resolution of
    the curve: one rollout for PPO), and ``savings`` is ``metrics.savings`` of the two:
    (steps_first - steps_relearn) / steps_first, 1 = relearned at once, 0 = no faster than the
    first time, negative = slower. Steps are NaN when the threshold was not reached within the
    wake (or the wake has no curve point); the threshold and everything after it are NaN when
    the first wake ended at or below the baseline (score <= 0: nothing was learned to save).
    ``reached_first``/``reached_relearn`` say which. Later wakes of the same context (a third,
    ...) are listed under ``later`` with their steps and savings against the first wake.
    """
    wakes: dict[str, list[int]] = {}
    for index, phase in enumerate(protocol.phases):
        if phase.kind == "wake":
            wakes.setdefault(phase.context, []).append(index)
    records = {record["index"]: record for record in phases}
    out: dict[str, dict[str, Any]] = {}
    for context, indices in wakes.items():
        if len(indices) < 2:
            continue
        curves = [records.get(i, {}).get("curve") or {"steps": [], "score": []} for i in indices]
        first = curves[0]["score"]
        threshold = fraction * first[-1] if first and first[-1] > 0 else float("nan")
        steps = [_steps_to(curve, threshold) for curve in curves]
        out[context] = {
            "threshold": threshold, "threshold_fraction": fraction, "phases": indices[:2],
            "steps_first": steps[0], "steps_relearn": steps[1], "savings": metrics.savings(steps[0], steps[1]),
            "reached_first": not np.isnan(steps[0]), "reached_relearn": not np.isnan(steps[1]),
            "later": [{"phase": i, "steps": s, "savings": metrics.savings(steps[0], s)}
                      for i, s in zip(indices[2:], steps[2:], strict=True)],
        }
    return out


def _steps_to(curve: dict[str, list], threshold: float) -> float:
    """Steps at which ``curve`` first reaches ``threshold``; NaN if never, or nothing to measure."""
    if not curve["steps"] or np.isnan(threshold):
        return float("nan")
    return metrics.steps_to_threshold(curve["steps"], curve["score"], threshold)


def metrics_of(saved: dict[str, Any]) -> dict[str, Any]:
    """The headline metrics recomputed from a saved ``results.json`` (R, rows, tasks, phases), so
    that runs finished under older code are compared under the current definitions."""
    matrices = {p: np.array(saved["R"][p], dtype=float) for p in POLICIES}
    wakes = [p["context"] for p in saved["phases"] if p["kind"] == "wake"]
    return summarise(matrices, saved["trained_rows"], saved["tasks"], saved["parameters"]["subcortical"],
                     saved["parameters"]["cortical_actor"], last_learned=wakes[-1] if wakes else None)


def _test_row_after(phases, phase_index: int) -> int | None:
    """Index in R of the first test after ``phase_index``."""
    row = -1
    for i, phase in enumerate(phases):
        if phase.kind == "test":
            row += 1
            if i > phase_index:
                return row
    return None
