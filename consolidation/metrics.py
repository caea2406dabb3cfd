"""Results metrics (DESIGN.md section 4) as pure numpy functions of a performance matrix and of
learning curves, following Continual World (Wolczyk et al. 2021, arXiv:2105.10919) and GEM
(Lopez-Paz and Ranzato 2017, arXiv:1706.08840). ``R`` is a 2-D float array of shape
(n_rows, n_tasks): ``R[i, j]`` is the normalised score on task j after phase i of a protocol
(rows are evaluations after each phase, e.g. wake A, sleep, wake B, sleep), with 0 = baseline
and 1 = reference; scores may be negative or exceed 1, and NaN marks a missing evaluation (it
propagates, never silently dropped). ``trained_rows[j]`` is the row at which task j's own
training ended (cortical policy: the row after its wake phase; subcortical student: the row
after the sleep that follows it), or None if task j was never trained in the protocol. Row
indices are non-negative positions in R: ``-1`` is rejected, so "before the last row" is never
ambiguous (where a final row can be chosen, ``final_row=None`` means the last row). Results are
floats (NaN where a metric is undefined) or arrays where stated.

Over 400 lines on purpose: every metric of DESIGN.md section 4 sits in this one module, beside
the raw and bounded variants it is read with, so that a definition is found in one place.

Bounded scale (DESIGN.md section 4, issue 12): raw normalised scores are unbounded (zero-shot
scores near -3, scores above 1 where a trained policy beats the reference), so averages over
tasks and seeds use ``bounded_score`` (clipped to [-1, 1]) while the raw score is kept beside
it; retention is a difference (``retention_drop``), its ratio only where the denominator is at
least 0.5 (``retention_ratio``); ``learned`` / ``learned_score`` say how well a task was learned
(shown beside retention, so that keeping A by not learning B is seen); forward transfer on a
bounded, budget-independent scale is ``bounded_forward_transfer``.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np


def _matrix(R) -> np.ndarray:
    try:
        R = np.asarray(R, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"R must be a 2-D float array, got {type(R).__name__}") from err
    if R.ndim != 2 or R.shape[0] < 1 or R.shape[1] < 1:
        raise ValueError(f"R must be 2-D with at least one row and one task, got shape {R.shape}")
    if np.isinf(R).any():
        raise ValueError("R must hold finite scores or NaN, got +-inf")
    return R


def _index(value, name: str, size: int) -> int:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be an integer in [0, {size - 1}], got {value!r}")
    try:
        idx = operator.index(value)
    except TypeError as err:
        raise ValueError(f"{name} must be an integer in [0, {size - 1}], got {value!r}") from err
    if not 0 <= idx < size:
        raise ValueError(f"{name} must be an integer in [0, {size - 1}], got {idx}")
    return idx


def _trained(R: np.ndarray, trained_rows: Sequence[int | None]) -> list[int | None]:
    n_rows, n_tasks = R.shape
    if len(trained_rows) != n_tasks:
        raise ValueError(
            f"trained_rows must have one entry per task (n_tasks={n_tasks}), "
            f"got length {len(trained_rows)}"
        )
    return [
        None if row is None else _index(row, f"trained_rows[{j}]", n_rows)
        for j, row in enumerate(trained_rows)
    ]


def _curve(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a non-empty 1-D array of finite values")
    return arr


def _final(R: np.ndarray, final_row, trained_row: int) -> int:
    """Validated ``final_row`` (None: the last row of R), not before ``trained_row``."""
    final = R.shape[0] - 1 if final_row is None else _index(final_row, "final_row", R.shape[0])
    if final < trained_row:
        raise ValueError(
            f"final_row must be >= trained_row (a task cannot be retained before its training "
            f"ended), got final_row={final}, trained_row={trained_row}"
        )
    return final


def _bounds(low, high) -> tuple[float, float]:
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError) as err:
        raise ValueError(f"low and high must be finite numbers, got low={low!r}, high={high!r}") from err
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        raise ValueError(f"low and high must be finite with low < high, got low={low}, high={high}")
    return low, high


def _drop(R: np.ndarray, task: int, trained_row: int, final_row: int) -> float:
    """``R[trained_row, task] - R[final_row, task]`` on validated arguments: the one
    implementation behind forgetting, backward transfer and ``retention_drop``."""
    return float(R[trained_row, task] - R[final_row, task])


def bounded_score(score, low: float = -1.0, high: float = 1.0):
    """Normalised score(s) clipped to [``low``, ``high``] (default [-1, 1]), for averages.

    Raw normalised scores are unbounded: below -1 a policy does worse than the baseline by more
    than the baseline-to-reference gap (zero-shot scores near -3 in reach), above 1 it beats the
    reference (1.5 where the reference fails on a strong field). One such value dominates a mean
    over tasks or seeds, so averages use the clipped score and tables keep the raw one beside
    it. Works elementwise on a scalar or any array (e.g. a whole R matrix); returns a float for
    a scalar, else an array of the input's shape (the input is not modified). NaN (a missing
    evaluation) stays NaN. ValueError if a score is +-inf or not a number (an infinite score
    comes from a zero baseline-to-reference gap, a bug that clipping would hide), or unless
    ``low`` and ``high`` are finite with ``low < high``.
    """
    low, high = _bounds(low, high)
    try:
        arr = np.asarray(score, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"score must be a number or an array of numbers, got {type(score).__name__}") from err
    if np.isinf(arr).any():
        raise ValueError("score must be finite or NaN, got +-inf")
    out = np.clip(arr, low, high)  # NaN passes through np.clip unchanged
    return float(out) if out.ndim == 0 else out


def average_performance(R) -> float:
    """Continual World's average performance P(T) = (1/N) sum_j R[-1, j]: the mean of the last
    row over all tasks, including tasks never trained (their zero-shot score counts)."""
    return float(np.mean(_matrix(R)[-1]))


def forgetting_per_task(R, trained_rows: Sequence[int | None]) -> np.ndarray:
    """Continual World's forgetting F_j = p_j(end of j's training) - p_j(end), here
    ``R[trained_rows[j], j] - R[-1, j]``; positive = forgotten. NaN for tasks never trained.
    A task whose training ended at the last row has F_j = 0 by construction. Per task this is
    ``retention_drop(R, j, trained_rows[j])`` (one implementation for both)."""
    R = _matrix(R)
    rows = _trained(R, trained_rows)
    out = np.full(R.shape[1], np.nan)
    for j, row in enumerate(rows):
        if row is not None:
            out[j] = _drop(R, j, row, R.shape[0] - 1)
    return out


def _earlier_tasks(R: np.ndarray, rows: list[int | None]) -> list[int]:
    return [j for j, row in enumerate(rows) if row is not None and row < R.shape[0] - 1]


def average_forgetting(R, trained_rows: Sequence[int | None]) -> float:
    """Mean of ``forgetting_per_task`` over the tasks whose training ended before the last row.

    Continual World's paper and code average F_j over all N tasks, so the final task (F = 0 by
    construction) dilutes the mean by (N-1)/N; so do several CL libraries. We follow GEM's BWT
    and average over the N-1 earlier tasks only, so ``average_forgetting == -backward_transfer``.
    Never-trained tasks are excluded. NaN if no task qualifies (e.g. a single-task protocol).
    """
    R = _matrix(R)
    rows = _trained(R, trained_rows)
    tasks = _earlier_tasks(R, rows)
    if not tasks:
        return float("nan")
    return float(np.mean([_drop(R, j, rows[j], R.shape[0] - 1) for j in tasks]))


def backward_transfer(R, trained_rows: Sequence[int | None]) -> float:
    """GEM's backward transfer BWT = (1/(N-1)) sum_{j<N} (R[N, j] - R[j, j]) (Lopez-Paz and
    Ranzato 2017), here the mean of ``R[-1, j] - R[trained_rows[j], j]`` over the same tasks as
    ``average_forgetting``; positive = later phases improved earlier tasks. NaN if none."""
    R = _matrix(R)
    rows = _trained(R, trained_rows)
    tasks = _earlier_tasks(R, rows)
    if not tasks:
        return float("nan")
    # 0.0 - x, not -x: equal scores give +0.0 as R[-1, j] - R[row, j] did, never -0.0
    return float(0.0 - np.mean([_drop(R, j, rows[j], R.shape[0] - 1) for j in tasks]))


def forward_transfer(curve, reference_curve) -> float:
    """Continual World's forward transfer FT = (AUC - AUC_ref) / (1 - AUC_ref).

    AUC is the mean of ``curve`` (normalised scores sampled at equal intervals over one task's
    training in the protocol) and AUC_ref the same for ``reference_curve`` (that task trained
    alone from scratch); this is the paper's (1/Delta) integral on a uniform grid, as its code
    computes it. FT = 0 for equal curves, > 0 when the protocol learns faster. Scores here can
    exceed 1, so unlike CW's success rates FT is not bounded by 1. Raises ValueError on curves
    of different lengths, and if AUC_ref >= 1 (no room to improve: FT is undefined). Unbounded
    and dependent on the budget here (issue 12); see ``bounded_forward_transfer``.
    """
    x = _curve(curve, "curve")
    y = _curve(reference_curve, "reference_curve")
    if x.size != y.size:
        raise ValueError(
            f"curve and reference_curve must have the same length, got {x.size} and {y.size}"
        )
    auc, auc_ref = float(np.mean(x)), float(np.mean(y))
    if auc_ref >= 1.0:
        raise ValueError(
            f"forward transfer is undefined when the reference AUC is >= 1 (got {auc_ref:.4g}): "
            "the normaliser 1 - AUC_ref is zero or negative"
        )
    return (auc - auc_ref) / (1.0 - auc_ref)


def _window_mean(steps: np.ndarray, scores: np.ndarray, window: float) -> float:
    """Mean over steps [0, ``window``] of the piecewise-linear curve through (steps, scores),
    held at its first score before its first point; exact (trapezoid on the curve's own
    breakpoints)."""
    inner = steps[(steps > 0) & (steps < window)]
    x = np.concatenate(([0.0], inner, [window]))
    return float(np.trapezoid(np.interp(x, steps, scores), x) / window)


def _curve_pair(steps, scores, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    x = _curve(steps, f"{prefix}steps")
    y = _curve(scores, f"{prefix}scores")
    if x.size != y.size:
        raise ValueError(f"{prefix}steps and {prefix}scores must have the same length, got {x.size} and {y.size}")
    if x[0] < 0 or np.any(np.diff(x) <= 0):
        raise ValueError(f"{prefix}steps must be >= 0 (steps since the phase began) and strictly increasing")
    return x, y


def bounded_forward_transfer(steps, scores, reference_steps, reference_scores, threshold: float = 0.9,
                             low: float = -1.0, high: float = 1.0) -> float:
    """Forward transfer on a bounded scale that does not change with the budget (issue 12).

    FT = (AUC - AUC_ref) / (high - low), in [-1, 1], where AUC is the mean of the task's bounded
    learning curve in the protocol (``steps``, ``scores``: e.g. B's wake after A) and AUC_ref that
    of the reference curve (the task learned from scratch; a benchmark run has only A's first
    wake as a stand-in), both over the same window of steps [0, T_ref]: T_ref is the first step
    at which the reference reaches ``threshold`` (default 0.9, the "learned" bar), i.e. the time
    a fresh learner needs to learn the task. Scores are clipped to [``low``, ``high``] (default
    [-1, 1], ``bounded_score``) and each curve is read as piecewise linear through its points,
    held at its first score between step 0 and its first point. 0 = learned as fast as from
    scratch, > 0 faster (a head start, quicker learning), < 0 slower (interference at the switch,
    plasticity loss); -1 only if the curve sits at ``low`` while the reference sits at ``high``.

    Why this scale. Continual World's FT = (AUC - AUC_ref) / (1 - AUC_ref) (``forward_transfer``)
    was built for success rates in [0, 1]; here zero-shot scores near -3 make it unbounded (-4 to
    -9.5 in the saved runs), and its window is the whole phase: the longer the budget, the
    longer both curves sit on their plateaus, so the numerator tends to the gap in final score
    while the normaliser 1 - AUC_ref tends to 0 (a B that plateaus at 0.8: -0.2 at one budget,
    -4.2 at 16 times it, diverging). Clipping bounds each AUC to [low, high], and the
    fixed width ``high - low`` bounds FT. The window is set by how fast the reference learns,
    not by the budget: more steps after T_ref (a longer wake, or a B wake longer than A's) leave
    FT unchanged, and stretching both curves along the step axis (a learner that needs k times
    the steps for the same curve) stretches T_ref with them and leaves FT unchanged too, so FT
    compares runs of different budgets. Normalising each AUC by its own phase length would also
    be bounded but is not budget-independent: a longer wake adds plateau and raises the AUC of
    a curve that learned no faster. The zero-shot difference (bounded score of B before its
    training minus that of a fresh network) is budget-independent as well, but it misses
    learning speed (plasticity loss), which this window includes along with the head start.

    NaN (n/a) when the reference never reaches ``threshold`` (no learning time to compare
    against: the budget is too short or the task not learned from scratch), when it reaches it
    at step 0 (nothing to learn), or when the curve ends before T_ref (its phase is too short to
    tell). Curves must be finite (ValueError on NaN or +-inf, as ``forward_transfer``); steps
    count from the start of each phase, >= 0 and strictly increasing, one per score. ValueError
    also unless ``low < threshold <= high`` with finite bounds.
    """
    low, high = _bounds(low, high)
    try:
        threshold = float(threshold)
    except (TypeError, ValueError) as err:
        raise ValueError(f"threshold must be a number in (low, high], got {threshold!r}") from err
    if not low < threshold <= high:
        raise ValueError(f"threshold must lie in (low, high] = ({low}, {high}], got {threshold}")
    x, y = _curve_pair(steps, scores, "")
    xr, yr = _curve_pair(reference_steps, reference_scores, "reference_")
    window = steps_to_threshold(xr, yr, threshold)
    if np.isnan(window) or window <= 0 or x[-1] < window:
        return float("nan")
    auc = _window_mean(x, np.clip(y, low, high), window)
    auc_ref = _window_mean(xr, np.clip(yr, low, high), window)
    return (auc - auc_ref) / (high - low)


def score_before_training(R, task: int, start_row: int) -> float:
    """Zero-shot score of ``task`` just before its training began: ``R[start_row - 1, task]``,
    where ``start_row`` is the row recorded after the first phase that trains it. NaN if
    ``start_row == 0`` (no evaluation precedes it; record an initial row to get one)."""
    R = _matrix(R)
    task = _index(task, "task", R.shape[1])
    start_row = _index(start_row, "start_row", R.shape[0])
    return float(R[start_row - 1, task]) if start_row > 0 else float("nan")


def retention_drop(R, task: int, trained_row: int, final_row: int | None = None) -> float:
    """Retention as a difference: ``R[trained_row, task] - R[final_row, task]``, how much of the
    task's score was lost between the end of its training and ``final_row`` (None: the last row
    of R), e.g. the drop of A after B; positive = lost, 0 = kept, negative = improved.

    A difference stays meaningful whatever the score at the trained row (the ratio does not:
    ``retention_ratio``). With ``final_row`` the last row it is Continual World's forgetting of
    one task (``forgetting_per_task``, which shares this implementation). On bounded scores
    (``bounded_score(R)``) it lies in [-2, 2]. NaN if either score is NaN (a missing
    evaluation). ValueError for a task or row outside R, or ``final_row < trained_row``.
    """
    R = _matrix(R)
    task = _index(task, "task", R.shape[1])
    trained_row = _index(trained_row, "trained_row", R.shape[0])
    return _drop(R, task, trained_row, _final(R, final_row, trained_row))


def retention_ratio(R, task: int, trained_row: int, min_denominator: float = 0.5,
                    final_row: int | None = None) -> float:
    """Retention as a ratio: ``R[final_row, task] / R[trained_row, task]`` (``final_row`` None:
    the last row), only where the denominator ``R[trained_row, task] >= min_denominator``
    (default 0.5, DESIGN.md section 4); NaN (n/a) otherwise.

    A ratio to a score that was barely acquired explodes (0.84 / 0.20 = 4.2 "retention") and
    flips sign at or below the baseline, so below ``min_denominator`` the task counts as not
    learned and the ratio is n/a; report ``retention_drop`` and ``learned_score`` beside it.
    NaN also if either score is NaN (a missing evaluation; no RuntimeWarning). ValueError for a
    task or row outside R, ``final_row < trained_row``, or unless ``min_denominator`` is finite
    and > 0.
    """
    try:
        min_denominator = float(min_denominator)
    except (TypeError, ValueError) as err:
        raise ValueError(f"min_denominator must be a finite number > 0, got {min_denominator!r}") from err
    if not (np.isfinite(min_denominator) and min_denominator > 0):
        raise ValueError(f"min_denominator must be a finite number > 0, got {min_denominator}")
    R = _matrix(R)
    task = _index(task, "task", R.shape[1])
    trained_row = _index(trained_row, "trained_row", R.shape[0])
    final = _final(R, final_row, trained_row)
    ref = R[trained_row, task]
    return float(R[final, task] / ref) if ref >= min_denominator else float("nan")


def retention(R, task: int, trained_row: int) -> float:
    """Legacy ratio ``R[-1, task] / R[trained_row, task]``, NaN where ``R[trained_row, task] <= 0``
    (a score at or below the baseline was never acquired; a ratio to it flips sign).

    ``retention_ratio`` with the smallest positive float as ``min_denominator`` (the same
    implementation; ``ref >= 5e-324`` is ``ref > 0``). Kept because consolidation/results.py
    and the committed tables are built on it; new code uses ``retention_ratio`` (n/a below 0.5)
    and ``retention_drop``.
    """
    return retention_ratio(R, task, trained_row, min_denominator=np.finfo(float).smallest_subnormal)


def learned_score(R, task: int, trained_row: int, low: float = -1.0, high: float = 1.0) -> float:
    """How well a task was learned: its bounded score (``bounded_score``, default [-1, 1]) at
    the row where its training ended, e.g. B's score after its wake. Shown beside the
    retention of A, so that a strategy that keeps A by not learning B is seen. NaN if the
    score is NaN (a missing evaluation). ValueError for a task or row outside R, or bad bounds.
    """
    R = _matrix(R)
    task = _index(task, "task", R.shape[1])
    trained_row = _index(trained_row, "trained_row", R.shape[0])
    return bounded_score(R[trained_row, task], low, high)


def learned(R, task: int, trained_row: int, threshold: float = 0.9) -> bool:
    """Whether a task was learned: ``R[trained_row, task] >= threshold`` (default 0.9, the bar
    of issue 12: "A and B each >= 0.9"), e.g. to count the seeds on which B was learned.

    A missing score cannot say yes or no, and a bool has no NaN: ValueError if the score is
    NaN (use ``learned_score``, which passes NaN through, where missing evaluations are
    expected). ValueError also for a task or row outside R, or a threshold that is not finite.
    """
    try:
        threshold = float(threshold)
    except (TypeError, ValueError) as err:
        raise ValueError(f"threshold must be a finite number, got {threshold!r}") from err
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    R = _matrix(R)
    task = _index(task, "task", R.shape[1])
    trained_row = _index(trained_row, "trained_row", R.shape[0])
    score = R[trained_row, task]
    if np.isnan(score):
        raise ValueError(
            f"R[{trained_row}, {task}] is NaN (a missing evaluation): whether the task was learned "
            "is unknown; use learned_score to keep it as NaN"
        )
    return bool(score >= threshold)


def distillation_fidelity(student_score, teacher_score):
    """Student score / teacher score on the same task (1 = the student matches its teacher),
    elementwise over broadcastable arrays; NaN wherever the teacher score is <= 0 (nothing to
    distil). Returns a float for scalar inputs, else an array."""
    s = np.asarray(student_score, dtype=float)
    t = np.asarray(teacher_score, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(t > 0, s / np.where(t > 0, t, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def offline_gain(R, before_row: int, after_row: int, task: int | None = None):
    """Score change produced by an offline (sleep) phase: ``R[after_row] - R[before_row]``.
    A float for one ``task``, an array over all tasks when ``task`` is None. Requires
    ``before_row < after_row``."""
    R = _matrix(R)
    before_row = _index(before_row, "before_row", R.shape[0])
    after_row = _index(after_row, "after_row", R.shape[0])
    if before_row >= after_row:
        raise ValueError(
            f"before_row must be < after_row, got before_row={before_row}, after_row={after_row}"
        )
    gain = R[after_row] - R[before_row]
    if task is None:
        return gain
    return float(gain[_index(task, "task", R.shape[1])])


def parameter_ratio(student_params: int, teacher_params: int) -> float:
    """Student parameter count / teacher parameter count (the x axis of fidelity plots).
    ValueError if ``teacher_params`` <= 0 or ``student_params`` < 0."""
    if teacher_params <= 0:
        raise ValueError(f"teacher_params must be a positive count, got {teacher_params}")
    if student_params < 0:
        raise ValueError(f"student_params must be a non-negative count, got {student_params}")
    return student_params / teacher_params


def steps_to_threshold(steps, scores, threshold: float) -> float:
    """First entry of ``steps`` at which ``scores >= threshold``; NaN if never reached.
    ``steps`` must be strictly increasing and as long as ``scores``; count steps from the start
    of the learning phase being measured so that ``savings`` compares like with like."""
    x = _curve(steps, "steps")
    y = _curve(scores, "scores")
    if x.size != y.size:
        raise ValueError(f"steps and scores must have the same length, got {x.size} and {y.size}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("steps must be strictly increasing")
    hit = np.flatnonzero(y >= threshold)
    return float(x[hit[0]]) if hit.size else float("nan")


def savings(steps_first, steps_relearn) -> float:
    """Ebbinghaus savings (steps_first - steps_relearn) / steps_first: 1 = instant relearning,
    0 = no savings, negative = slower than the first time. NaN if either input is NaN (a
    threshold never reached); ValueError if ``steps_first`` <= 0 or ``steps_relearn`` < 0."""
    first, relearn = float(steps_first), float(steps_relearn)
    if np.isnan(first) or np.isnan(relearn):
        return float("nan")
    if not 0 < first < np.inf:
        raise ValueError(f"steps_first must be finite and > 0, got {first}")
    if not 0 <= relearn < np.inf:
        raise ValueError(f"steps_relearn must be finite and >= 0, got {relearn}")
    return (first - relearn) / first
