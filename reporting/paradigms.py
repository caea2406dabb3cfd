"""The human paradigms read off saved runs: per-seed measures, their intervals, and the effects
the human studies report, each paired by seed against its control.

The ABA-gap paradigm (Brashers-Krug, Shadmehr and Bizzi 1996; Shadmehr and Brashers-Krug 1997):
learn A, k sleeps, learn the opposite B, retest A, relearn A. The measures of one run, all on the
bounded score of the *wake controller's behaviour* (``R['cortical']``, normalised to the family's
anchors and clipped to [-1, 1]: 0 is the naive baseline, 1 the reference controller):

- ``A_learned``: A after its first wake; ``B_learned``: B after its wake (the floor asks 0.9 of both);
- ``A_before_B``: A in the last test before B's wake (after the k sleeps);
- ``A_retest``: A in the test after B's wake: the retest, the human studies' interference measure
  (their error relative to naive is our score's distance below 1, 0 being naive);
- ``A_kept``: ``A_retest - A_before_B`` (0: B took nothing of A);
- ``savings``: relearning A against learning it first (``metrics.savings``: 1 at once, 0 no faster).

A *gap effect* is a measure at k minus the same seed's measure at k = 0; a *control effect* is one
strategy's measure minus its matched control's (e.g. ``replay_distill`` against ``awake_replay``)
at the same k, paired by seed. An effect is "higher" or "lower" only when its interval excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from consolidation.metrics import bounded_score
from reporting.intervals import interval, interval_verdict
from reporting.runs import Run, aba_gap, first_wake, row_after, row_before

MEASURES = {  # measure -> its header in the tables
    "A_learned": "A learned", "B_learned": "B learned", "A_before_B": "A before B",
    "A_retest": "A at retest", "A_kept": "A kept (retest - before B)", "savings": "savings of A",
}
FLOOR = 0.9  # each context learned to this, on 9 of 10 seeds, before an effect counts
COLUMNS = ["condition", "strategy", "gap", "seed", "measure", "value"]
EFFECT_COLUMNS = ["condition", "strategy", "gap", "against", "measure", "seeds", "difference", "low", "high"]


def aba_measures(results: Mapping) -> dict[str, float] | None:
    """The measures of one ABA-gap run (module docstring), or None if it does not learn A then B."""
    gap = aba_gap(results)
    if gap is None:
        return None
    tasks = results["tasks"]
    a, b = first_wake(results, tasks[0]), first_wake(results, tasks[1])
    score = bounded_score(np.asarray(results["R"]["cortical"], dtype=float))

    def at(row: int | None, task: int) -> float:
        return math.nan if row is None else float(score[row, task])

    before, after = row_before(results, b), row_after(results, b)
    savings = results.get("metrics", {}).get("savings", {}).get(tasks[0], {}).get("savings")
    measures = {"A_learned": at(row_after(results, a), 0), "B_learned": at(after, 1),
                "A_before_B": at(before, 0), "A_retest": at(after, 0),
                "savings": math.nan if savings is None else float(savings)}
    measures["A_kept"] = measures["A_retest"] - measures["A_before_B"]
    return {"gap": gap, **measures}


def aba_frame(conditions: Mapping[str, Iterable[Run]]) -> pd.DataFrame:
    """``COLUMNS`` rows of every ABA-gap run of every condition (name -> its runs)."""
    rows = []
    for condition, runs in conditions.items():
        for run in runs:
            measures = aba_measures(run.results)
            if measures is None:
                continue
            gap = measures.pop("gap")
            rows += [{"condition": condition, "strategy": run.strategy, "gap": gap, "seed": run.seed,
                      "measure": name, "value": value} for name, value in measures.items()]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    duplicated = frame.duplicated(["condition", "strategy", "gap", "seed", "measure"])
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise ValueError(f"condition {first['condition']!r}, {first['strategy']} at k={first['gap']} has seed "
                         f"{first['seed']} twice: give each condition one run per seed")
    return frame


def summary(frame: pd.DataFrame, reps: int, seed: int) -> pd.DataFrame:
    """Per (condition, strategy, gap, measure): seeds, mean and its bootstrap interval; for the
    learned measures also how many seeds reached the floor."""
    rows = []
    for (condition, strategy, gap, measure), group in frame.groupby(["condition", "strategy", "gap", "measure"],
                                                                  sort=True):
        values = group["value"].to_numpy(float)
        kept = values[np.isfinite(values)]
        point, low, high = interval(kept, "mean", reps, seed) if len(kept) else (math.nan,) * 3
        floor = int((kept >= FLOOR).sum()) if measure in ("A_learned", "B_learned") else None
        rows.append({"condition": condition, "strategy": strategy, "gap": int(gap), "measure": measure,
                     "seeds": len(kept), "mean": point, "low": low, "high": high, "at_floor": floor})
    return pd.DataFrame(rows, columns=["condition", "strategy", "gap", "measure", "seeds", "mean", "low", "high",
                                       "at_floor"])


def _paired(a: pd.Series, b: pd.Series, reps: int, seed: int) -> tuple[int, float, float, float]:
    seeds = a.index.intersection(b.index)
    diff = (a[seeds] - b[seeds]).to_numpy(float)
    diff = diff[np.isfinite(diff)]
    if not len(diff):
        return 0, math.nan, math.nan, math.nan
    return (len(diff), *interval(diff, "mean", reps, seed))


def gap_effects(frame: pd.DataFrame, reps: int, seed: int,
                measures: Sequence[str] = ("A_retest", "A_kept", "savings")) -> pd.DataFrame:
    """Each measure at every k > 0 minus the same seed's at k = 0, per condition and strategy."""
    rows = []
    for (condition, strategy), group in frame[frame["measure"].isin(measures)].groupby(["condition", "strategy"]):
        by = {(g, m): sub.set_index("seed")["value"] for (g, m), sub in group.groupby(["gap", "measure"])}
        for (gap, measure), values in sorted(by.items()):
            if gap == 0 or (0, measure) not in by:
                continue
            n, point, low, high = _paired(values, by[(0, measure)], reps, seed)
            rows.append({"condition": condition, "strategy": strategy, "gap": int(gap), "against": "k=0",
                         "measure": measure, "seeds": n, "difference": point, "low": low, "high": high})
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def control_effects(frame: pd.DataFrame, controls: Mapping[str, str], reps: int, seed: int,
                    measures: Sequence[str] = ("A_retest", "A_kept", "savings")) -> pd.DataFrame:
    """Each strategy minus its matched control (``controls``: strategy -> control) at the same
    condition and k, paired by seed."""
    rows = []
    chosen = frame[frame["measure"].isin(measures)]
    for (condition, gap, measure), group in chosen.groupby(["condition", "gap", "measure"]):
        by = {s: sub.set_index("seed")["value"] for s, sub in group.groupby("strategy")}
        for strategy, control in controls.items():
            if strategy in by and control in by:
                n, point, low, high = _paired(by[strategy], by[control], reps, seed)
                rows.append({"condition": condition, "strategy": strategy, "gap": int(gap), "against": control,
                             "measure": measure, "seeds": n, "difference": point, "low": low, "high": high})
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def condition_effects(frame: pd.DataFrame, first: str, second: str, reps: int, seed: int,
                      measures: Sequence[str] = ("A_retest", "B_learned", "savings")) -> pd.DataFrame:
    """Condition ``first`` minus ``second`` (e.g. two controllers) at the same strategy and k."""
    rows = []
    chosen = frame[frame["measure"].isin(measures)]
    for (strategy, gap, measure), group in chosen.groupby(["strategy", "gap", "measure"]):
        by = {c: sub.set_index("seed")["value"] for c, sub in group.groupby("condition")}
        if first in by and second in by:
            n, point, low, high = _paired(by[first], by[second], reps, seed)
            rows.append({"condition": first, "strategy": strategy, "gap": int(gap), "against": second,
                         "measure": measure, "seeds": n, "difference": point, "low": low, "high": high})
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def verdict(row: Mapping) -> str:
    """'higher', 'lower' or 'no difference detected', from the effect's interval."""
    return interval_verdict(row["low"], row["high"])


def floor_met(summary_frame: pd.DataFrame, condition: str, strategy: str, gap: int, seeds_needed: int = 9) -> bool:
    """Whether A and B were both learned to the floor on ``seeds_needed`` seeds in that cell."""
    cell = summary_frame[(summary_frame["condition"] == condition) & (summary_frame["strategy"] == strategy)
                         & (summary_frame["gap"] == gap) & summary_frame["measure"].isin(["A_learned", "B_learned"])]
    return len(cell) == 2 and bool((cell["at_floor"] >= seeds_needed).all())
