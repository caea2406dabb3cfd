"""One protocol under two conditions (e.g. the context cue hidden or given), paired by seed.

Each (family, strategy, policy, metric) that both tidy frames hold (``runs.csv``, reporting/tidy.py)
gets the mean under each condition and the mean of the per-seed difference (first condition
minus second) with its stratified bootstrap interval, over the seeds both conditions ran. The
verdict is "higher" or "lower" only when the interval excludes zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reporting.intervals import interval, interval_verdict
from reporting.tidy import CURVE_METRICS, METRICS

COMPARED = ("learned_first", "learned_second", "retention_drop_first", "final_first")  # what a condition changes
LABELS = {**METRICS, "steps_to_learn_first": "steps to A 0.9",  # what may be compared, with its header
          "steps_to_learn_second": "steps to B 0.9"}  # steps from the wake's start (NaN: never reached)
COLUMNS = ["family", "strategy", "policy", "metric", "seeds", "first", "second", "difference", "low", "high"]


def paired_differences(first: pd.DataFrame, second: pd.DataFrame, reps: int, seed: int,
                       metrics: Sequence[str] = COMPARED) -> pd.DataFrame:
    """Rows of ``COLUMNS``: per (family, strategy, policy, metric) in both frames, the means over
    the common seeds and first minus second, paired by seed, with its interval."""
    unknown = sorted(set(metrics) - set(LABELS))
    if unknown:
        raise ValueError(f"metrics {unknown} are not allowed: expected some of {sorted(LABELS)}")
    keys = ["family", "strategy", "policy", "metric"]
    rows = []
    a_groups = {key: group for key, group in first[first["metric"].isin(metrics)].groupby(keys, sort=False)}
    for key, b_group in second[second["metric"].isin(metrics)].groupby(keys, sort=False):
        if key not in a_groups:
            continue
        a = a_groups[key].set_index("seed")["value"].astype(float)
        b = b_group.set_index("seed")["value"].astype(float)
        if a.index.has_duplicates or b.index.has_duplicates:
            raise ValueError(f"{dict(zip(keys, key, strict=True))}: a seed appears twice in one condition")
        seeds = a.index.intersection(b.index)
        diff = (a[seeds] - b[seeds]).to_numpy()
        kept = np.isfinite(diff)
        point, low, high = interval(diff, "mean", reps, seed) if kept.any() else (math.nan,) * 3
        rows.append({**dict(zip(keys, key, strict=True)), "seeds": int(kept.sum()),
                     "first": float(a[seeds][kept].mean()) if kept.any() else math.nan,
                     "second": float(b[seeds][kept].mean()) if kept.any() else math.nan,
                     "difference": point, "low": low, "high": high})
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(metric: str, row: pd.Series, seeds: int) -> str:
    """'first / second, difference [low, high] (verdict)'; steps as whole numbers, and the seeds
    compared when fewer than the row's (a curve that never reached the threshold has no steps)."""
    if math.isnan(row["difference"]):
        return "n/a"
    value, signed = ("{:,.0f}", "{:+,.0f}") if metric in CURVE_METRICS else ("{:.2f}", "{:+.2f}")
    low, high = row["low"], row["high"]
    text = (f"{value.format(row['first'])} / {value.format(row['second'])}, {signed.format(row['difference'])} "
            f"[{signed.format(low)}, {signed.format(high)}] ({interval_verdict(low, high)})")
    return text + (f" ({int(row['seeds'])} seeds)" if int(row["seeds"]) < seeds else "")


def markdown(table: pd.DataFrame, first_name: str, second_name: str, metrics: Sequence[str] = COMPARED) -> str:
    """One table per family: rows (strategy, policy), columns per metric 'first / second, difference [CI]',
    in the order of ``metrics``."""
    out = []
    for family, rows in table.groupby("family", sort=False):
        shown = [m for m in metrics if m in set(rows["metric"])]
        header = [f"{LABELS[m]}: {first_name} / {second_name}, difference [95% CI]" for m in shown]
        lines = [f"**{family}** ({first_name} minus {second_name}, paired by seed; bounded scores)", "",
                 "| strategy | policy | seeds | " + " | ".join(header) + " |", "|---" * (3 + len(shown)) + "|"]
        for (strategy, policy), group in rows.groupby(["strategy", "policy"], sort=False):
            by_metric = group.set_index("metric")
            seeds = int(group["seeds"].max())
            if seeds == 0:  # a policy with no value under either condition (a student that never slept)
                continue
            cells = [_cell(m, by_metric.loc[m], seeds) if m in by_metric.index else "n/a" for m in shown]
            lines.append(f"| {strategy} | {policy} | {seeds} | " + " | ".join(cells) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)
