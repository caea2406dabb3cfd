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
              student_parameters: int, cortical_parameters: int) -> dict[str, Any]:
    """Headline metrics of both policies (consolidation/metrics.py definitions)."""
    summary: dict[str, Any] = {}
    for policy, r_matrix in matrices.items():
        rows_of = trained[policy]
        summary[policy] = {
            "average_performance": metrics.average_performance(r_matrix),
            "average_forgetting": metrics.average_forgetting(r_matrix, rows_of),
            "backward_transfer": metrics.backward_transfer(r_matrix, rows_of),
            "forgetting": [float(v) for v in metrics.forgetting_per_task(r_matrix, rows_of)],
            "retention": {t: (metrics.retention(r_matrix, j, rows_of[j]) if rows_of[j] is not None
                              else float("nan")) for j, t in enumerate(tasks)},
        }
    summary["fidelity"] = {
        task: (float("nan") if row is None else
               metrics.distillation_fidelity(matrices["subcortical"][row, j], matrices["cortical"][row, j]))
        for j, (task, row) in enumerate(zip(tasks, trained["subcortical"], strict=True))}
    summary["parameter_ratio"] = metrics.parameter_ratio(student_parameters, cortical_parameters)
    return summary


def _test_row_after(phases, phase_index: int) -> int | None:
    """Index in R of the first test after ``phase_index``."""
    row = -1
    for i, phase in enumerate(phases):
        if phase.kind == "test":
            row += 1
            if i > phase_index:
                return row
    return None
