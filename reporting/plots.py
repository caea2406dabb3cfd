"""The report's PNG figures (matplotlib, Agg backend), each written atomically.

From runs (they need R matrices or curves): R heatmaps, retention of A over the protocol,
sleep gating and loss curves. From the tidy frames alone (so ``--from-csv`` rebuilds them):
interval plots of every metric, the ABA-gap curve. Spreads drawn over seeds are the range of
the seeds (min to max), said so on each figure; intervals are the report's bootstrap ones.
Every function returns the path it wrote, or None when there is nothing to draw; figure
sizes are fixed by the data's shape (stated per function), at ``DPI`` dots per inch.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display; before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reporting.runs import Run, row_labels  # noqa: E402
from reporting.tables import policies_shown, strategy_order  # noqa: E402
from reporting.tidy import ABA_METRICS, METRICS, POLICIES, POLICY_METRICS  # noqa: E402

DPI = 100
PANEL = (4.0, 3.0)  # inches of one line-plot panel


def heatmaps(runs: Sequence[Run], family: str, path: Path, order: Sequence[str] | None = None) -> Path | None:
    """R (test rows x tasks), mean over seeds, one panel per strategy (rows) and policy (columns:
    student, cortex; the student panel is blank for strategies that never slept). Size:
    2 * (1.8 + 0.9 * tasks) x (0.6 + (0.6 + 0.3 * test rows) * strategies) inches."""
    runs = [r for r in runs if r.family == family]
    if not runs:
        return None
    strategies = strategy_order({r.strategy for r in runs}, order)
    n_rows, n_tasks = np.shape(runs[0].results["R"]["cortical"])
    fig, axes = plt.subplots(len(strategies), 2, squeeze=False, layout="constrained",
                             figsize=(2 * (1.8 + 0.9 * n_tasks), 0.6 + (0.6 + 0.3 * n_rows) * len(strategies)))
    image = None
    for i, strategy in enumerate(strategies):
        mine = [r for r in runs if r.strategy == strategy]
        for j, policy in enumerate(("student", "cortex")):
            ax = axes[i, j]
            if policy == "student" and not any(r.slept for r in mine):
                ax.axis("off")
                ax.text(0.5, 0.5, f"{strategy}: student untrained", ha="center", va="center", fontsize=8)
                continue
            matrices = [np.asarray(r.results["R"][POLICIES[policy]], dtype=float) for r in mine]
            if len({m.shape for m in matrices}) != 1:
                raise ValueError(f"{family}/{strategy}: runs have R matrices of different shapes "
                                 f"{sorted({m.shape for m in matrices})}: not the same protocol")
            mean = np.mean(matrices, axis=0)
            image = ax.imshow(mean, cmap="RdYlGn", vmin=-1.0, vmax=1.0, aspect="auto")
            for (row, col), value in np.ndenumerate(mean):
                ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7)
            ax.set_xticks(range(mean.shape[1]), mine[0].results["tasks"], fontsize=7)
            ax.set_yticks(range(mean.shape[0]), row_labels(mine[0].results), fontsize=7)
            ax.set_title(f"{strategy} {policy} ({len(mine)} seeds)", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="score (mean over seeds)")
    fig.suptitle(f"{family}: R, score on each task after each phase", fontsize=9)
    return _save(fig, path)


def retention_curves(runs: Sequence[Run], family: str, path: Path, order: Sequence[str] | None = None) -> Path | None:
    """Score on the first task after each test row, per strategy: mean over seeds (line) and
    seed range (band); panels student, cortex. Size: 2 x 1 panels of ``PANEL``."""
    runs = [r for r in runs if r.family == family]
    if not runs:
        return None
    strategies = strategy_order({r.strategy for r in runs}, order)
    colours, dashes = strategy_colours(strategies), strategy_dashes(strategies)
    fig, axes = plt.subplots(1, 2, figsize=(2 * PANEL[0], PANEL[1]), sharey=True)
    longest: list[str] = []
    for ax, policy in zip(axes, ("student", "cortex"), strict=True):
        for strategy in strategies:
            mine = [r for r in runs if r.strategy == strategy]
            if policy == "student" and not any(r.slept for r in mine):
                continue
            curves = [np.asarray(r.results["R"][POLICIES[policy]], dtype=float)[:, 0] for r in mine]
            if len({c.size for c in curves}) != 1:
                raise ValueError(f"{family}/{strategy}: runs have different numbers of test rows")
            labels = row_labels(mine[0].results)
            longest = labels if len(labels) > len(longest) else longest
            x, stack = np.arange(curves[0].size), np.vstack(curves)
            ax.plot(x, stack.mean(axis=0), marker="o", ms=3, color=colours[strategy], ls=dashes[strategy],
                    label=strategy)
            ax.fill_between(x, stack.min(axis=0), stack.max(axis=0), color=colours[strategy], alpha=0.15)
        ax.set_title(f"{policy}", fontsize=9)
        ax.axhline(0.0, color="grey", lw=0.5)
    task = runs[0].results["tasks"][0]
    axes[0].set_ylabel(f"score on {task}")
    for ax in axes:
        ax.set_xticks(range(len(longest)), longest, rotation=30, fontsize=7, ha="right")
        ax.set_xlabel("after phase", fontsize=8)
    _legend(axes[1])
    fig.suptitle(f"{family}: retention of {task} over the protocol (mean over seeds, band: seed range)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


# the nine metrics of the interval figure: every table metric but the check on the reference
INTERVAL_METRICS = tuple(m for m in METRICS if m != "max_raw_score")


def interval_plot(summary: pd.DataFrame, family: str, path: Path, aggregate: str = "iqm",
                  order: Sequence[str] | None = None) -> Path | None:
    """Per metric, the ``aggregate`` (iqm or mean) and its 95% interval for every (strategy,
    policy) row of the table. Size: 3 x 3 panels of 3.6 x (0.8 + 0.22 * table rows) inches."""
    here = summary[summary["family"] == family]
    if here.empty:
        return None
    rows = [(s, p) for s in strategy_order(here["strategy"], order) for p in policies_shown(summary, family, s)]
    colours = strategy_colours([s for s, _ in rows])
    fig, axes = plt.subplots(3, 3, figsize=(3 * 3.6, 3 * (0.8 + 0.22 * len(rows))), sharey=True)
    for ax, metric in zip(axes.flat, INTERVAL_METRICS, strict=True):
        for y, (strategy, policy) in enumerate(rows):
            cell = here[(here["strategy"] == strategy) & (here["policy"] == policy) & (here["metric"] == metric)]
            if metric not in POLICY_METRICS[policy] or cell.empty or not np.isfinite(cell[aggregate].iloc[0]):
                continue
            point, low, high = (float(cell[k].iloc[0]) for k in (aggregate, f"{aggregate}_low", f"{aggregate}_high"))
            ax.errorbar(point, y, xerr=[[point - low], [high - point]], fmt="o" if policy == "student" else "s",
                        ms=4, color=colours[strategy], capsize=2)
        ax.set_title(METRICS[metric], fontsize=9)
        ax.set_yticks(range(len(rows)), [f"{s} {p}" for s, p in rows], fontsize=7)
        ax.grid(axis="x", lw=0.3)
    axes.flat[0].invert_yaxis()  # shared y: first table row on top in every panel
    fig.suptitle(f"{family}: {aggregate.upper()} over seeds with 95% stratified bootstrap intervals", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def retention_against_learning(frame: pd.DataFrame, family: str, path: Path,
                               order: Sequence[str] | None = None) -> Path | None:
    """One point per run: A at the end (y) against how well B was learned (x), for the cortex
    and for the student, bounded scores. A strategy that keeps A by not learning B sits top
    left, fine-tuning's forgetting bottom right, consolidation that works top right. From the
    tidy frame alone (runs.csv), so it rebuilds without the runs."""
    here = frame[(frame["family"] == family) & frame["metric"].isin(["learned_second", "final_first"])]
    if here.empty:
        return None
    wide = here.pivot_table(index=["strategy", "seed", "policy"], columns="metric", values="value").reset_index()
    wide = wide.dropna(subset=[c for c in ("learned_second", "final_first") if c in wide])
    if wide.empty or not {"learned_second", "final_first"} <= set(wide.columns):
        return None
    strategies = strategy_order(wide["strategy"], order)
    colours = strategy_colours(strategies)
    policies = [p for p in ("cortex", "student") if (wide["policy"] == p).any()]
    fig, axes = plt.subplots(1, len(policies), figsize=(4.6 * len(policies) + 1.8, 4.2), squeeze=False)
    for ax, policy in zip(axes[0], policies, strict=True):
        mine = wide[wide["policy"] == policy]
        for i, strategy in enumerate(strategies):
            points = mine[mine["strategy"] == strategy]
            if points.empty:
                continue
            ax.scatter(points["learned_second"], points["final_first"], s=18, color=colours[strategy],
                       marker="os^Dv<>ph*"[i % 10], label=strategy, alpha=0.8, edgecolors="none")
        ax.axvline(0.9, color="0.6", lw=0.6, ls=":")
        ax.axhline(0.9, color="0.6", lw=0.6, ls=":")
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel="B learned (bounded score after its training)",
               ylabel="A at the end (bounded score)", title=f"{policy} (one point per run)")
        ax.grid(lw=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    fig.legend(handles, labels, fontsize=7, frameon=False, loc="center right")
    fig.suptitle(f"{family}: is A kept because B was not learned? (dotted: the 0.9 bar)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - 1.6 / fig.get_figwidth(), 1))
    return _save(fig, path)


def gating_curves(runs: Sequence[Run], family: str, path: Path, order: Sequence[str] | None = None) -> Path | None:
    """For strategies whose sleep trained the student: the batch gain and the distillation loss
    logged during sleep, sleep phases laid end to end (mean over seeds, band: seed range; the
    logged points are spread evenly over each phase's updates), and the per-phase dopamine-like
    and acetylcholine-like means. None if no run slept. Size: 3 x 1 panels of ``PANEL``."""
    family_runs = [r for r in runs if r.family == family]
    everyone = strategy_order({r.strategy for r in family_runs}, order)  # styles as in the other figures
    colours, dashes = strategy_colours(everyone), strategy_dashes(everyone)
    runs = [r for r in family_runs if r.slept]
    if not runs:
        return None
    strategies = strategy_order({r.strategy for r in runs}, order)
    fig, axes = plt.subplots(1, 3, figsize=(3 * PANEL[0], PANEL[1]))
    for strategy in strategies:
        sleeps = [[p for p in r.results["phases"] if p["kind"] == "sleep" and not p.get("skipped", False)]
                  for r in runs if r.strategy == strategy]
        for ax, key in zip(axes[:2], ("gain_curve", "loss_curve"), strict=True):
            x, stack = _laid_end_to_end(sleeps, key)
            if x is None:
                continue
            ax.plot(x, stack.mean(axis=0), color=colours[strategy], ls=dashes[strategy], label=strategy, lw=1)
            ax.fill_between(x, stack.min(axis=0), stack.max(axis=0), color=colours[strategy], alpha=0.15)
        for signal, marker in (("dopamine_mean", "o"), ("acetylcholine_mean", "^")):
            values = np.array([[p.get("gating", {}).get(signal, np.nan) for p in run] for run in sleeps], dtype=float)
            if values.size and np.isfinite(values).any():
                axes[2].plot(np.arange(values.shape[1]) + 1, np.nanmean(values, axis=0), marker=marker,
                             color=colours[strategy], lw=0.8, label=f"{strategy} {signal.split('_')[0]}")
    axes[0].set(title="batch gain (gating)", xlabel="sleep updates (phases end to end)")
    axes[1].set(title="distillation loss", xlabel="sleep updates (phases end to end)", yscale="log")
    axes[2].set(title="neuromodulator means per sleep", xlabel="sleep phase")
    axes[2].xaxis.get_major_locator().set_params(integer=True)
    for ax in axes:
        ax.title.set_fontsize(9)
    _legend(axes[2])
    fig.suptitle(f"{family}: sleep (mean over seeds, band: seed range)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def aba_curve(aba: pd.DataFrame, path: Path, order: Sequence[str] | None = None) -> Path | None:
    """ABA gap paradigm: retention of A after B (cortex, student) and savings on relearning A
    against the number k of sleeps between A and B, per strategy: mean over seeds, bars: seed
    range. None if ``aba`` is empty. Size: 3 x 1 panels of ``PANEL``."""
    if aba.empty:
        return None
    labels = {(f, s): (s if aba["family"].nunique() == 1 else f"{f} {s}")
              for f, s in aba[["family", "strategy"]].drop_duplicates().itertuples(index=False)}
    strategies = strategy_order(aba["strategy"], order)
    colours = strategy_colours(strategies)
    fig, axes = plt.subplots(1, 3, figsize=(3 * PANEL[0], PANEL[1]))
    panels = (("cortex", "retention_after_second"), ("student", "retention_after_second"), ("cortex", "savings_first"))
    for ax, (policy, metric) in zip(axes, panels, strict=True):
        chosen = aba[(aba["policy"] == policy) & (aba["metric"] == metric)].dropna(subset=["value"])
        for (family, strategy), group in chosen.groupby(["family", "strategy"], sort=False):
            stats = group.groupby("gap")["value"].agg(["mean", "min", "max"]).sort_index()
            mean, low, high = (stats[k].to_numpy() for k in ("mean", "min", "max"))
            ax.errorbar(stats.index.to_numpy(), mean, yerr=[mean - low, high - mean], marker="o", ms=4, capsize=2,
                        color=colours[strategy], label=labels[(family, strategy)])
        ax.set_title(f"{ABA_METRICS[metric]} ({policy})", fontsize=9)
        ax.set_xlabel("k: sleeps between A and B", fontsize=8)
        gaps = sorted(aba["gap"].unique())
        ax.set_xticks(gaps, [str(int(g)) for g in gaps])
    _legend(axes[2])
    fig.suptitle("ABA gap: mean over seeds, bars: seed range", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def strategy_dashes(strategies: Sequence[str]) -> dict[str, str]:
    """One line style per strategy, by position, so that curves drawn on top of each other (the
    cortex of every sleep strategy is fine-tuning's) stay visible."""
    styles = ("-", "--", "-.", ":")
    return {s: styles[i % len(styles)] for i, s in enumerate(dict.fromkeys(strategies))}


def strategy_colours(strategies: Sequence[str]) -> dict[str, tuple]:
    """One colour per strategy, by position in ``strategies`` (tab10, tab20 beyond ten)."""
    unique = list(dict.fromkeys(strategies))
    palette = plt.get_cmap("tab10" if len(unique) <= 10 else "tab20")
    return {s: palette(i % palette.N) for i, s in enumerate(unique)}


def _laid_end_to_end(sleeps: list[list[dict]], key: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """x (cumulative updates) and per-seed curves of ``key`` over consecutive sleep phases;
    None if a seed lacks the curve or the seeds' phases differ in length."""
    per_seed = []
    for phases in sleeps:
        if not phases or any(not p.get(key) for p in phases):
            return None, None
        per_seed.append(np.concatenate([np.asarray(p[key], dtype=float) for p in phases]))
    if len({c.size for c in per_seed}) != 1:
        return None, None
    x, start = [], 0.0
    for phase in sleeps[0]:
        updates = float(phase.get("updates", len(phase[key])))
        x.append(start + np.linspace(0.0, max(updates - 1.0, 0.0), len(phase[key])))
        start += updates
    return np.concatenate(x), np.vstack(per_seed)


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, frameon=False, loc="best")


def _save(fig, path: Path) -> Path:
    """Save as PNG through a temporary file in the same directory and a rename; close ``fig``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp.png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=DPI, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return path
