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
from reporting.tidy import METRICS

COMPARED = ("learned_first", "learned_second", "retention_drop_first", "final_first")  # what a condition changes
COLUMNS = ["family", "strategy", "policy", "metric", "seeds", "first", "second", "difference", "low", "high"]


def paired_differences(first: pd.DataFrame, second: pd.DataFrame, reps: int, seed: int,
                       metrics: Sequence[str] = COMPARED) -> pd.DataFrame:
    """Rows of ``COLUMNS``: per (family, strategy, policy, metric) in both frames, the means over
    the common seeds and first minus second, paired by seed, with its interval."""
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ValueError(f"metrics {unknown} are not allowed: expected some of {sorted(METRICS)}")
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


def markdown(table: pd.DataFrame, first_name: str, second_name: str) -> str:
    """One table per family: rows (strategy, policy), columns per metric 'first / second, difference [CI]'."""
    out = []
    for family, rows in table.groupby("family", sort=False):
        metrics = [m for m in COMPARED if m in set(rows["metric"])]
        header = [f"{METRICS[m]}: {first_name} / {second_name}, difference [95% CI]" for m in metrics]
        lines = [f"**{family}** ({first_name} minus {second_name}, paired by seed; bounded scores)", "",
                 "| strategy | policy | seeds | " + " | ".join(header) + " |", "|---" * (3 + len(metrics)) + "|"]
        for (strategy, policy), group in rows.groupby(["strategy", "policy"], sort=False):
            by_metric = group.set_index("metric")
            cells = []
            for metric in metrics:
                if metric not in by_metric.index:
                    cells.append("n/a")
                    continue
                r = by_metric.loc[metric]
                cells.append("n/a" if math.isnan(r["difference"]) else
                             f"{r['first']:.2f} / {r['second']:.2f}, {r['difference']:+.2f} "
                             f"[{r['low']:+.2f}, {r['high']:+.2f}] ({interval_verdict(r['low'], r['high'])})")
            lines.append(f"| {strategy} | {policy} | {int(group['seeds'].max())} | " + " | ".join(cells) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)
