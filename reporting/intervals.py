"""Aggregates over seeds with rliable: IQM and mean with stratified bootstrap 95% intervals,
and the probability of improvement of one strategy over another, reproducible under a fixed
bootstrap seed.

Seeds are the runs: each estimate bootstraps the per-run values of one metric, an array of
shape (n_seeds, 1) (one "task" per estimate, so the stratified bootstrap resamples seeds),
never evaluation episodes, whose spread within a run says nothing about how a new seed
would do. NaN values (a metric undefined in a run) are left out and counted.

rliable 1.2.0's bootstraps draw their indices from numpy's *global* generator
(``np.random.choice`` in ``StratifiedBootstrap.update_indices``) and ignore ``random_state``:
two calls with ``RandomState(0)`` give different intervals. So every estimate seeds the
global generator with the bootstrap seed and restores its previous state afterwards; each
interval then depends only on its own values, the seed and the number of replications, not
on which estimates were computed before it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from rliable import library as rly
from rliable import metrics as rly_metrics

AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "iqm": rly_metrics.aggregate_iqm,    # 25% trimmed mean over runs (scipy.stats.trim_mean)
    "mean": rly_metrics.aggregate_mean,
}
SUMMARY_COLUMNS = ["family", "strategy", "policy", "metric", "runs", "n",
                   "iqm", "iqm_low", "iqm_high", "mean", "mean_low", "mean_high"]
IMPROVEMENT_COLUMNS = ["family", "metric", "strategy", "policy", "other", "other_policy",
                       "n", "other_n", "probability", "low", "high"]
CONFIDENCE = 0.95


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed numpy's global generator (which rliable's bootstrap draws from), restore it after.

    Also silences arch's FutureWarning about the ``random_state`` rliable hands it: the
    argument is kept (should a later rliable honour it) but changes nothing here."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
            yield
    finally:
        np.random.set_state(state)


def per_seed(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Finite values as rliable's (runs x tasks) array with one task."""
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)].reshape(-1, 1)


def interval(values: Sequence[float] | np.ndarray, aggregate: str, reps: int, seed: int,
             size: float = CONFIDENCE) -> tuple[float, float, float]:
    """(point, low, high): ``AGGREGATES[aggregate]`` of the per-seed ``values`` and its
    percentile stratified bootstrap interval (``rliable.library.get_interval_estimates``).
    NaNs are dropped first; all NaN when nothing is left. Equal values give a zero-width
    interval without bootstrapping (every resample is the same)."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {sorted(AGGREGATES)}, got {aggregate!r}")
    _check_reps(reps)
    x = per_seed(values)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    if np.ptp(x) == 0:
        value = float(x[0, 0])
        return value, value, value
    function = AGGREGATES[aggregate]
    with seeded_global_rng(seed):
        points, intervals = rly.get_interval_estimates(
            {"x": x}, lambda scores: np.array([function(scores)]), reps=reps,
            confidence_interval_size=size, random_state=np.random.RandomState(seed))
    return float(points["x"][0]), float(intervals["x"][0, 0]), float(intervals["x"][1, 0])


def interval_verdict(low: float, high: float) -> str:
    """What an interval of a difference says: "higher" or "lower" only when it excludes zero."""
    if math.isnan(low):
        return "n/a"
    return "higher" if low > 0 else "lower" if high < 0 else "no difference detected"


def mean_interval_text(values: Sequence[float] | np.ndarray, reps: int, seed: int) -> str:
    """'mean [low, high]' over the per-seed ``values`` (two decimals), or 'n/a' when none is finite."""
    point, low, high = interval(values, "mean", reps, seed)
    return "n/a" if math.isnan(point) else f"{point:.2f} [{low:.2f}, {high:.2f}]"


def improvement(x_values: Sequence[float] | np.ndarray, y_values: Sequence[float] | np.ndarray, reps: int,
                seed: int, size: float = CONFIDENCE) -> tuple[float, float, float]:
    """(point, low, high): rliable's probability of improvement P(X > Y) (Mann-Whitney U over
    all pairs of runs, ties counted half) of per-seed ``x_values`` over ``y_values``, with an
    interval from resampling each side's seeds independently. NaN if either side is empty."""
    _check_reps(reps)
    x, y = per_seed(x_values), per_seed(y_values)
    if x.size == 0 or y.size == 0:
        return math.nan, math.nan, math.nan
    with seeded_global_rng(seed):
        points, intervals = rly.get_interval_estimates(
            {"p": [x, y]}, lambda a, b: np.array([rly_metrics.probability_of_improvement(a, b)]), reps=reps,
            confidence_interval_size=size, random_state=np.random.RandomState(seed))
    return float(points["p"][0]), float(intervals["p"][0, 0]), float(intervals["p"][1, 0])


def summarise(frame: pd.DataFrame, reps: int, seed: int) -> pd.DataFrame:
    """One row of ``SUMMARY_COLUMNS`` per (family, strategy, policy, metric) of a tidy frame:
    ``runs`` (rows), ``n`` (finite values), IQM and mean with their intervals over seeds."""
    rows, done = [], {}
    for (family, strategy, policy, metric), group in frame.groupby(
            ["family", "strategy", "policy", "metric"], sort=False):
        values = group["value"].to_numpy(dtype=float)
        row = {"family": family, "strategy": strategy, "policy": policy, "metric": metric,
               "runs": len(values), "n": int(np.isfinite(values).sum())}
        for name in AGGREGATES:
            # the same values give the same interval (one seed): e.g. the cortex of every sleep
            # strategy is fine-tuning's when they share the cached wake phases
            key = (name, tuple(per_seed(values).ravel()))
            if key not in done:
                done[key] = interval(values, name, reps, seed)
            row[name], row[f"{name}_low"], row[f"{name}_high"] = done[key]
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def headline_policy(frame: pd.DataFrame, family: str, strategy: str) -> str:
    """The policy a strategy keeps its skill in: the student if any of its runs slept, else the
    cortex (fine-tuning, wake penalties, CLEAR and multitask without distillation)."""
    runs = frame[(frame["family"] == family) & (frame["strategy"] == strategy)]
    return "student" if runs["slept"].any() else "cortex"


def improvements(frame: pd.DataFrame, of: str, metrics: Sequence[str], reps: int, seed: int) -> pd.DataFrame:
    """Probability of improvement of strategy ``of`` over each other strategy of its family, on
    each of ``metrics``, each strategy judged by its ``headline_policy`` (rows of
    ``IMPROVEMENT_COLUMNS``). Families without ``of`` get no rows."""
    rows = []
    for family in frame["family"].drop_duplicates():
        here = frame[frame["family"] == family]
        if of not in set(here["strategy"]):
            continue
        policy = headline_policy(frame, family, of)
        for metric in metrics:
            x = _values(here, of, policy, metric)
            for other in here["strategy"].drop_duplicates():
                if other == of:
                    continue
                other_policy = headline_policy(frame, family, other)
                y = _values(here, other, other_policy, metric)
                probability, low, high = improvement(x, y, reps, seed)
                rows.append({"family": family, "metric": metric, "strategy": of, "policy": policy, "other": other,
                             "other_policy": other_policy, "n": int(np.isfinite(x).sum()),
                             "other_n": int(np.isfinite(y).sum()), "probability": probability,
                             "low": low, "high": high})
    return pd.DataFrame(rows, columns=IMPROVEMENT_COLUMNS)


def _values(frame: pd.DataFrame, strategy: str, policy: str, metric: str) -> np.ndarray:
    chosen = frame[(frame["strategy"] == strategy) & (frame["policy"] == policy) & (frame["metric"] == metric)]
    return chosen["value"].to_numpy(dtype=float)


def _check_reps(reps: int) -> None:
    if not isinstance(reps, int | np.integer) or isinstance(reps, bool) or reps < 1:
        raise ValueError(f"reps (bootstrap replications) must be an integer >= 1, got {reps!r}")
