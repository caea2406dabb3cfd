"""The gating study's tables and figure (issue 13), from its tidy frame and its saved gain audits.

The study's runs sit at ``<runs>/<regime>/<mode>/seed<k>``: in the tidy frame (reporting/tidy.py)
the regime takes the ``family`` column and the gating mode the ``strategy`` column, so that every
helper of the benchmark's findings reads it as is. Per regime:

1. **Headroom** (does the regime test anything?): with gating off, how much of A the student
   loses between its first night and the end, and its gap to the teacher (the cortex's A where
   A's training ended minus the student's A at the end). A regime where gating off loses nothing
   cannot show gating help.
2. **Every mode's student**: A at the end and B after its night, mean with its interval, so
   the modes can be ranked.
3. **Gated against each control**, on the student's A at the end and its B after the second
   night: the paired difference (on minus control) with its bootstrap interval, and rliable's
   probability of improvement P(on > control) with its interval; and the two pairs that need
   no 'on': ``inverted`` against ``off`` (do inverted tags help?) and ``shuffled_across_tasks``
   against ``shuffled_within_task`` (does moving plasticity between tasks matter?).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reporting.findings import Findings
from reporting.intervals import improvement, interval, interval_verdict

CONTROLS = ("off", "shuffled_within_task", "shuffled_across_tasks", "inverted", "matched")
MODES = ("on", *CONTROLS)
COMPARED = {"final_first": "A at end", "learned_second": "B after its night"}
GAIN_TICKS = (0.25, 0.5, 1, 2, 4)
PAIRS = (*(("on", control) for control in CONTROLS),  # (mode, control): mode minus control, paired by seed
         ("inverted", "off"), ("shuffled_across_tasks", "shuffled_within_task"))
COLUMNS = ["regime", "mode", "control", "metric", "seeds", "on", "control_mean", "difference", "low", "high",
           "p_improvement", "p_low", "p_high"]


def comparisons(frame: pd.DataFrame, reps: int, seed: int) -> pd.DataFrame:
    """Rows of ``COLUMNS``: per regime, pair of ``PAIRS`` and compared metric, the student under
    the pair's mode against the same student under its control, paired by seed (the column
    ``on`` holds the mode's mean)."""
    rows = []
    for regime in frame["family"].drop_duplicates():
        found = Findings(frame, regime, reps, seed)
        for mode, control in PAIRS:
            if not (found.has(mode, "student") and found.has(control, "student")):
                continue
            for metric in COMPARED:
                on, other = found.values(mode, "student", metric), found.values(control, "student", metric)
                seeds = on.index.intersection(other.index)
                if seeds.empty:
                    continue
                diff = (on[seeds] - other[seeds]).to_numpy()
                point, low, high = interval(diff, "mean", reps, seed)
                p, p_low, p_high = improvement(on[seeds].to_numpy(), other[seeds].to_numpy(), reps, seed)
                rows.append({"regime": regime, "mode": mode, "control": control, "metric": metric, "seeds": len(seeds),
                             "on": float(on[seeds].mean()), "control_mean": float(other[seeds].mean()),
                             "difference": point, "low": low, "high": high,
                             "p_improvement": p, "p_low": p_low, "p_high": p_high})
    return pd.DataFrame(rows, columns=COLUMNS)


def headroom(frame: pd.DataFrame, regime: str, reps: int, seed: int) -> str:
    """One sentence: what the student loses of A with gating off in ``regime``."""
    found = Findings(frame, regime, reps, seed)
    if not found.has("off", "student"):
        return f"**{regime}**: no run with gating off."
    lost = found.values("off", "student", "retention_drop_first")
    teacher, student = found.values("off", "cortex", "learned_first"), found.values("off", "student", "final_first")
    seeds = teacher.index.intersection(student.index)
    gap = (teacher[seeds] - student[seeds]).to_numpy()
    lost_low = interval(lost.to_numpy(), "mean", reps, seed)[1]
    gap_point, gap_low, gap_high = interval(gap, "mean", reps, seed)
    tests = lost_low > 0 or gap_low > 0
    verdict = ("gating off loses something here: the regime can show gating help" if tests else
               "gating off loses nothing measurable here: the regime cannot show gating help")
    return (f"**{regime}**, gating off: the student's A after its first night "
            f"{found.mean('off', 'student', 'learned_first')}, at the end "
            f"{found.mean('off', 'student', 'final_first')}; A lost (first night to the end) "
            f"{found.mean('off', 'student', 'retention_drop_first')}; gap to the teacher (the cortex's A "
            f"where A's training ended minus the student's A at the end) {gap_point:.2f} "
            f"[{gap_low:.2f}, {gap_high:.2f}]. So {verdict}.")


def mode_means(frame: pd.DataFrame, regime: str, reps: int, seed: int) -> str:
    """One line: every mode's student, A at the end and B after its night, mean [95% CI]."""
    found = Findings(frame, regime, reps, seed)
    cells = []
    for mode in MODES:
        if found.has(mode, "student"):
            cells.append(f"`{mode}` " + " / ".join(found.mean(mode, "student", metric) for metric in COMPARED))
    return (f"Students of {regime}, {' / '.join(COMPARED.values())}: " + "; ".join(cells) + ".") if cells else ""


def task_gains(records: Sequence[Mapping[str, Any]], regime: str, mode: str = "on") -> str:
    """One sentence: each task's mean gain in the last night of ``mode``'s runs, averaged over
    seeds (1 for every task when gating moves no plasticity between tasks)."""
    chosen = [r for r in records if r["regime"] == regime and r["mode"] == mode]
    if not chosen:
        return ""
    last = max(r["night"] for r in chosen)
    chosen = [r for r in chosen if r["night"] == last]
    names = chosen[0]["tasks"]
    tasks = sorted({t for r in chosen for t in r["gating"]["per_task"]}, key=int)
    cells = [f"{names[int(t)] if int(t) < len(names) else t} "
             f"{np.mean([r['gating']['per_task'][t]['gain_mean'] for r in chosen if t in r['gating']['per_task']]):.2f}"
             for t in tasks]
    return f"Mean gain by task in night {last + 1} (`{mode}`, mean over seeds): " + ", ".join(cells) + "."


def markdown(frame: pd.DataFrame, table: pd.DataFrame, reps: int, seed: int,
             regimes: Sequence[str] | None = None, records: Sequence[Mapping[str, Any]] = ()) -> str:
    """Per regime: the headroom sentence, every mode's means, each task's mean gain (from the
    audits ``records``, when given), and the table of the paired comparisons."""
    out = []
    for regime in regimes or list(frame["family"].drop_duplicates()):
        out += [headroom(frame, regime, reps, seed), "", mode_means(frame, regime, reps, seed), ""]
        if gains := task_gains(records, regime):
            out += [gains, ""]
        rows = table[table["regime"] == regime]
        if rows.empty:
            continue
        header = [f"{label}: mode / control, mode minus control [95% CI]; P(mode > control) [95% CI]"
                  for label in COMPARED.values()]
        out += ["| mode vs control | seeds | " + " | ".join(header) + " |", "|---" * (2 + len(COMPARED)) + "|"]
        for (mode, control), group in rows.groupby(["mode", "control"], sort=False):
            cells = []
            for metric in COMPARED:
                row = group[group["metric"] == metric]
                if row.empty:
                    cells.append("n/a")
                    continue
                r = row.iloc[0]
                cells.append(f"{r['on']:.2f} / {r['control_mean']:.2f}, {r['difference']:+.3f} "
                             f"[{r['low']:+.3f}, {r['high']:+.3f}] ({interval_verdict(r['low'], r['high'])}); "
                             f"{r['p_improvement']:.2f} [{r['p_low']:.2f}, {r['p_high']:.2f}]")
            out.append(f"| `{mode}` vs `{control}` | {int(group['seeds'].max())} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out).strip()


def audits(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """The gain audit of every sleep of every run: regime, mode, seed, sleep index, and the
    sleep's ``gating`` summary (consolidation.neuromodulation.Neuromodulator.summary)."""
    out = []
    for run in runs:
        sleeps = [p for p in run.results["phases"] if p["kind"] == "sleep" and not p.get("skipped", False)]
        for night, phase in enumerate(sleeps):
            if phase.get("gating", {}).get("per_task"):
                out.append({"regime": run.family, "mode": run.strategy, "seed": run.seed, "night": night,
                            "tasks": run.results["tasks"], "gating": phase["gating"]})
    return out


def gains_figure(records: Sequence[Mapping[str, Any]], path: Path, mode: str = "on") -> Path | None:
    """Gains by task and by tag, one column per regime, from the last night of ``mode``'s runs:
    top, the histogram of each task's gains (summed over seeds); bottom, each task's Spearman
    correlation of gain with |TD error| and with novelty, one point per seed."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [r for r in records if r["mode"] == mode]
    if not chosen:
        return None
    last = max(r["night"] for r in chosen)
    chosen = [r for r in chosen if r["night"] == last]
    regimes = list(dict.fromkeys(r["regime"] for r in chosen))
    fig, axes = plt.subplots(2, len(regimes), figsize=(3.6 * len(regimes), 6.0), squeeze=False)
    for column, regime in enumerate(regimes):
        mine = [r for r in chosen if r["regime"] == regime]
        edges = np.asarray(mine[0]["gating"]["histogram_edges"])
        names = mine[0]["tasks"]
        top, bottom = axes[0, column], axes[1, column]
        ticks, labels = [], []
        for index, task in enumerate(sorted({t for r in mine for t in r["gating"]["per_task"]}, key=int)):
            counts = np.sum([r["gating"]["per_task"][task]["histogram"] for r in mine
                             if task in r["gating"]["per_task"]], axis=0)
            label = names[int(task)] if int(task) < len(names) else task
            top.stairs(counts / max(counts.sum(), 1), edges, label=f"task {label}")
            for offset, (key, marker) in enumerate((("spearman_td", "o"), ("spearman_novelty", "^"))):
                values = [r["gating"]["per_task"][task][key] for r in mine if task in r["gating"]["per_task"]]
                values = [v for v in values if v is not None and math.isfinite(v)]
                tag = "|TD error|" if key == "spearman_td" else "novelty"
                bottom.scatter(np.full(len(values), index * 3 + offset), values, marker=marker, alpha=0.7,
                               label=f"{label}: {tag}")
                ticks.append(index * 3 + offset)
                labels.append(f"{label}\n{tag}")
        top.set(xscale="log", title=f"{regime} ({mode}, night {last + 1})", xlabel="gain",
                ylabel="share of memories" if column == 0 else None)
        top.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        top.set_xticks(GAIN_TICKS, [f"{t:g}" for t in GAIN_TICKS])
        bottom.axhline(0, color="grey", lw=0.5)
        bottom.set(ylim=(-1.05, 1.05), ylabel="Spearman(gain, tag), one point per seed" if column == 0 else None)
        bottom.set_xticks(ticks, labels, fontsize=7)
        top.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
