"""The report's PNG figures (matplotlib, Agg backend), each written atomically.

From runs (they need R matrices or curves): R heatmaps, retention of A over the protocol,
sleep gating and loss curves. From the tidy frames alone (so ``--from-csv`` rebuilds them):
interval plots of every metric, the ABA-gap curve. Spreads drawn over seeds are the range of
the seeds (min to max), said so on each figure; intervals are the report's bootstrap ones.
Every function returns the path it wrote, or None when there is nothing to draw; figure
sizes are fixed by the data's shape (stated per function), at ``DPI`` dots per inch. The
``*_figure`` functions build the figure without saving it (the tests read its artists).
Legends sit outside the panels; a row or curve identical to an earlier one is drawn once
with a note naming the others; colour scales span the data.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display; before pyplot is imported

import matplotlib.colors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from reporting.runs import Run, row_labels  # noqa: E402
from reporting.tables import policies_shown, strategy_order  # noqa: E402
from reporting.tidy import ABA_METRICS, METRICS, POLICIES, POLICY_METRICS  # noqa: E402

DPI = 100
PANEL = (4.0, 3.0)  # inches of one line-plot panel
LEGEND_WIDTH = 1.9  # inches of the legend column beside the panels
HEATMAP_COLUMNS = 4  # R panels per row of the heatmap figure


def identical_groups(items: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Names in their order, each mapped to the later names whose array is equal to its own
    (same shape, NaN equal to NaN); a name equal to an earlier one is not a key. E.g. the
    cortex of every sleep strategy that shares fine-tuning's wake phases: one row, not eight."""
    groups: dict[str, list[str]] = {}
    for name, value in items.items():
        value = np.asarray(value, dtype=float)
        first = next((g for g in groups if np.asarray(items[g]).shape == value.shape
                      and np.array_equal(np.asarray(items[g], dtype=float), value, equal_nan=True)), None)
        if first is None:
            groups[name] = []
        else:
            groups[first].append(name)
    return groups


def merged_note(groups: dict[str, list[str]], why: str) -> str:
    """One line per merged group, "<name> stands for <others> too: <why>"; "" if nothing was merged."""
    return "\n".join(f"{name} stands for {', '.join(others)} too: {why}" for name, others in groups.items() if others)


def heatmap_norm(values: np.ndarray) -> matplotlib.colors.TwoSlopeNorm:
    """Diverging colour scale centred at 0 that spans the data and at least [-1, 1] (the bounded
    range: 1 is the reference controller, 0 the random policy), so that raw scores far below
    -1 keep their own colours instead of all looking like -1."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    low = min(-1.0, float(finite.min())) if finite.size else -1.0
    high = max(1.0, float(finite.max())) if finite.size else 1.0
    return matplotlib.colors.TwoSlopeNorm(vcenter=0.0, vmin=low, vmax=high)


def text_colour(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba`` (relative luminance)."""
    r, g, b = (float(c) for c in rgba[:3])
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def heatmaps(runs: Sequence[Run], family: str, path: Path, order: Sequence[str] | None = None) -> Path | None:
    """``heatmap_figure`` saved to ``path``; None when there is nothing to draw."""
    return _saved(heatmap_figure(runs, family, order), path)


def heatmap_figure(runs: Sequence[Run], family: str, order: Sequence[str] | None = None) -> Figure | None:
    """R (test rows x tasks), mean over seeds, one panel per (strategy, policy) that exists: the
    student of strategies that slept, the cortex of every strategy, a cortex identical in every
    seed to an earlier one's drawn once (a note names the others). Panels fill rows of
    ``HEATMAP_COLUMNS``; one diverging colour scale (``heatmap_norm``) over every panel, cell
    text black or white by the cell's luminance. Size: columns * (0.9 + 0.75 * tasks) + 1.2 (at least 6) x
    0.9 + (0.7 + 0.3 * test rows) * panel rows inches, plus 0.15 per note line."""
    runs = [r for r in runs if r.family == family]
    if not runs:
        return None
    panels: dict[str, tuple[np.ndarray, list[Run]]] = {}  # "strategy policy" -> (per-seed stack, runs)
    untrained = []
    for strategy in strategy_order({r.strategy for r in runs}, order):
        mine = sorted((r for r in runs if r.strategy == strategy), key=lambda r: r.seed)
        for policy in ("student", "cortex"):
            if policy == "student" and not any(r.slept for r in mine):
                untrained.append(strategy)
                continue
            matrices = [np.asarray(r.results["R"][POLICIES[policy]], dtype=float) for r in mine]
            if len({m.shape for m in matrices}) != 1:
                raise ValueError(f"{family}/{strategy}: runs have R matrices of different shapes "
                                 f"{sorted({m.shape for m in matrices})}: not the same protocol")
            panels[f"{strategy} {policy}"] = (np.stack(matrices), mine)
    # the seeds enter the comparison, so that runs of other seeds are never merged
    groups = identical_groups({k: _with_seeds(stack, mine) for k, (stack, mine) in panels.items()})
    shown = list(groups)
    means = {k: panels[k][0].mean(axis=0) for k in shown}
    norm = heatmap_norm(np.concatenate([m.ravel() for m in means.values()]))
    cmap = plt.get_cmap("RdYlGn")
    n_rows, n_tasks = max(m.shape[0] for m in means.values()), max(m.shape[1] for m in means.values())
    columns = min(HEATMAP_COLUMNS, len(shown))
    lines = int(np.ceil(len(shown) / columns))
    notes = [merged_note({k: [o.rsplit(" ", 1)[0] for o in v] for k, v in groups.items()}, "the same R in every seed")]
    if untrained:
        notes.append(f"no student panel (the strategy never slept): {', '.join(untrained)}")
    note = "\n".join(n for n in notes if n)
    seeds = sorted({len(mine) for _, mine in panels.values()})
    fig, axes = plt.subplots(lines, columns, squeeze=False, layout="constrained",
                             figsize=(max(columns * (0.9 + 0.75 * n_tasks) + 1.2, 6.0),  # room for the title
                                      0.9 + (0.7 + 0.3 * n_rows) * lines + _note_height(note)))
    image = None
    for ax, key in zip(axes.flat, shown, strict=False):
        mean, mine = means[key], panels[key][1]
        image = ax.imshow(mean, cmap=cmap, norm=norm, aspect="auto")
        for (row, col), value in np.ndenumerate(mean):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color=text_colour(cmap(norm(value))))
        ax.set_xticks(range(mean.shape[1]), mine[0].results["tasks"], fontsize=7)
        ax.set_yticks(range(mean.shape[0]), row_labels(mine[0].results), fontsize=7)
        extra = f" (+{len(groups[key])} same)" if groups[key] else ""
        ax.set_title(f"{key}{extra}" + ("" if len(seeds) == 1 else f", {len(mine)} seeds"), fontsize=8)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.colorbar(image, ax=axes, shrink=min(1.0, 3.0 / fig.get_figheight() + 0.3), aspect=30,
                 label="score (mean over seeds)")
    seed_text = f"mean over {seeds[0]} seeds" if len(seeds) == 1 else "mean over seeds"
    fig.suptitle(f"{family}: R, score on each task (columns) after each phase (rows), {seed_text}", fontsize=9)
    if note:
        fig.supxlabel(note, fontsize=7, x=0.01, ha="left")
    return fig


def retention_curves(runs: Sequence[Run], family: str, path: Path, order: Sequence[str] | None = None) -> Path | None:
    """``retention_figure`` saved to ``path``; None when there is nothing to draw."""
    return _saved(retention_figure(runs, family, order), path)


def retention_figure(runs: Sequence[Run], family: str, order: Sequence[str] | None = None) -> Figure | None:
    """Score on the first task after each test row, per strategy: mean over seeds (line) and
    seed range (band); panels student, cortex. A strategy whose curve equals an earlier one's in
    every seed is drawn once (a note names the others). Legend beside the panels. Size: 2 x 1
    panels of 4.4 x 3.4 inches plus ``LEGEND_WIDTH``, plus 0.15 per note line."""
    runs = [r for r in runs if r.family == family]
    if not runs:
        return None
    strategies = strategy_order({r.strategy for r in runs}, order)
    colours, dashes = strategy_colours(strategies), strategy_dashes(strategies)
    curves: dict[str, dict[str, np.ndarray]] = {"student": {}, "cortex": {}}
    longest: list[str] = []
    for policy in curves:
        for strategy in strategies:
            mine = sorted((r for r in runs if r.strategy == strategy), key=lambda r: r.seed)
            if policy == "student" and not any(r.slept for r in mine):
                continue
            per_seed = [np.asarray(r.results["R"][POLICIES[policy]], dtype=float)[:, 0] for r in mine]
            if len({c.size for c in per_seed}) != 1:
                raise ValueError(f"{family}/{strategy}: runs have different numbers of test rows")
            labels = row_labels(mine[0].results)
            longest = labels if len(labels) > len(longest) else longest
            curves[policy][strategy] = _with_seeds(np.vstack(per_seed), mine)
    groups = {policy: identical_groups(found) for policy, found in curves.items()}
    notes = [merged_note({f"{s} {p}": v for s, v in g.items()}, "the same curve in every seed")
             for p, g in groups.items()]
    note = "\n".join(n for n in notes if n)
    fig, axes = plt.subplots(1, 2, figsize=(2 * 4.4 + LEGEND_WIDTH, 3.4 + _note_height(note)), sharey=True,
                             layout="constrained")
    for ax, policy in zip(axes, curves, strict=True):
        for strategy in groups[policy]:
            stack = curves[policy][strategy][:, 1:]  # the first column holds the seeds
            x = np.arange(stack.shape[1])
            ax.plot(x, stack.mean(axis=0), marker="o", ms=3, color=colours[strategy], ls=dashes[strategy],
                    label=strategy)
            ax.fill_between(x, stack.min(axis=0), stack.max(axis=0), color=colours[strategy], alpha=0.15)
        ax.set_title(policy, fontsize=9)
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_xticks(range(len(longest)), longest, rotation=30, fontsize=7, ha="right")
        ax.set_xlabel("after phase", fontsize=8)
        ax.grid(axis="y", lw=0.3)
    task = runs[0].results["tasks"][0]
    axes[0].set_ylabel(f"score on {task}")
    _figure_legend(fig, axes, order=strategies)
    fig.suptitle(f"{family}: retention of {task} over the protocol (mean over seeds, band: seed range)", fontsize=9)
    if note:
        fig.supxlabel(note, fontsize=7, x=0.01, ha="left")
    return fig


# the nine metrics of the interval figure: every table metric but the check on the reference
INTERVAL_METRICS = tuple(m for m in METRICS if m != "max_raw_score")


# metrics off the bounded scale and the part of it their panel shows: A kept divides raw scores,
# so it runs far below -1 (a raw score of -3 on A after B) and above 1; a few such rows would
# squeeze every other row into a corner. Rows beyond are arrows at the edge, with their value.
DISPLAY_RANGE = {"retention_ratio_first": (-1.0, 1.5)}


def display_limits(metric: str, lows: Sequence[float], highs: Sequence[float]) -> tuple[float, float] | None:
    """The x-limits of ``metric``'s panel when its rows reach beyond its ``DISPLAY_RANGE``: the
    rows' span cut to that range, padded by 5% of it; None when the rows fit (or the metric is
    bounded, and drawn whole)."""
    if metric not in DISPLAY_RANGE:
        return None
    values = np.concatenate([np.asarray(lows, dtype=float), np.asarray(highs, dtype=float)])
    values = values[np.isfinite(values)]
    start, stop = DISPLAY_RANGE[metric]
    if values.size == 0 or (values.min() >= start and values.max() <= stop):
        return None
    pad = 0.05 * (stop - start)
    return max(float(values.min()), start) - pad, min(float(values.max()), stop) + pad


def interval_plot(summary: pd.DataFrame, family: str, path: Path, aggregate: str = "iqm",
                  order: Sequence[str] | None = None) -> Path | None:
    """``interval_figure`` saved to ``path``; None when there is nothing to draw."""
    return _saved(interval_figure(summary, family, aggregate, order), path)


def interval_figure(summary: pd.DataFrame, family: str, aggregate: str = "iqm",
                    order: Sequence[str] | None = None) -> Figure | None:
    """Per metric, the ``aggregate`` (iqm or mean) and its 95% interval for every (strategy,
    policy) row of the table, drawn for a reader:

    - a row whose estimates and intervals equal an earlier row's of the same policy on every
      metric (the cortex of sleep strategies that share fine-tuning's wake) is drawn once,
      labelled "(+k same)", and a note names the others;
    - a metric with one value in every row (the parameter ratio), or none, gets no panel; a
      note gives its value;
    - a metric off the bounded scale is drawn over its ``DISPLAY_RANGE`` only; rows whose
      estimate lies beyond are arrows at the edge with their value.

    Panels fill rows of three. Size: 3 * 3.6 x (panel rows * (0.8 + 0.22 * rows drawn) + 0.5)
    inches, plus 0.15 per note line."""
    here = summary[summary["family"] == family]
    if here.empty:
        return None
    table_rows = [(s, p) for s in strategy_order(here["strategy"], order) for p in policies_shown(summary, family, s)]
    colours = strategy_colours([s for s, _ in table_rows])
    cells = {}  # (strategy, policy, metric) -> (point, low, high)
    for (strategy, policy) in table_rows:
        for metric in INTERVAL_METRICS:
            cell = here[(here["strategy"] == strategy) & (here["policy"] == policy) & (here["metric"] == metric)]
            if metric in POLICY_METRICS[policy] and not cell.empty and np.isfinite(cell[aggregate].iloc[0]):
                cells[(strategy, policy, metric)] = tuple(
                    float(cell[k].iloc[0]) for k in (aggregate, f"{aggregate}_low", f"{aggregate}_high"))
    groups: dict[tuple[str, str], list[str]] = {}
    for policy in ("student", "cortex"):
        mine = {s: np.array([cells.get((s, policy, m), (np.nan,) * 3) for m in INTERVAL_METRICS])
                for s, p in table_rows if p == policy}
        groups.update({(s, policy): others for s, others in identical_groups(mine).items()})
    rows = [row for row in table_rows if row in groups]
    notes = [merged_note({f"{s} {p}": others for (s, p), others in groups.items()},
                         "the same estimate and interval on every metric")]
    metrics = []
    for metric in INTERVAL_METRICS:
        values = np.array([cells[(s, p, metric)] for s, p in rows if (s, p, metric) in cells])
        if values.size == 0:
            notes.append(f"{METRICS[metric]}: n/a in every row (no panel)")
        elif np.ptp(values) <= 1e-12 * max(1.0, float(np.abs(values).max())):  # points and interval ends
            notes.append(f"{METRICS[metric]}: {values[0, 0]:.3g} in every run (no panel)")
        else:
            metrics.append(metric)
    note = "\n".join(n for n in notes if n)
    lines = int(np.ceil(len(metrics) / 3))
    height = lines * (0.8 + 0.22 * len(rows)) + 0.5 + _note_height(note)
    fig, axes = plt.subplots(lines, 3, figsize=(3 * 3.6, height), sharey=True, squeeze=False, layout="constrained")
    labels = [f"{s} {p}" + (f" (+{len(groups[(s, p)])} same)" if groups[(s, p)] else "") for s, p in rows]
    for ax, metric in zip(axes.flat, metrics, strict=False):
        drawn = [(y, s, p, *cells[(s, p, metric)]) for y, (s, p) in enumerate(rows) if (s, p, metric) in cells]
        limits = display_limits(metric, [d[4] for d in drawn], [d[5] for d in drawn])
        for y, strategy, policy, point, low, high in drawn:
            if limits is not None and not limits[0] <= point <= limits[1]:
                _out_of_range(ax, limits, y, point, colours[strategy])
                continue
            ax.errorbar(point, y, xerr=[[point - low], [high - point]], fmt="o" if policy == "student" else "s",
                        ms=4, color=colours[strategy], capsize=2)
        if limits is not None:
            ax.set_xlim(*limits)
        ax.set_title(METRICS[metric] + (" (axis cut at {:g} and {:g})".format(*DISPLAY_RANGE[metric])
                                        if limits else ""), fontsize=9)
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        ax.grid(axis="x", lw=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].set_ylim(len(rows) - 0.5, -0.5)  # shared y: first table row on top in every panel
    fig.suptitle(f"{family}: {aggregate.upper()} over seeds with 95% stratified bootstrap intervals "
                 "(circles: student, squares: cortex)", fontsize=9)
    if note:
        fig.supxlabel(note, fontsize=7, x=0.01, ha="left")
    return fig


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
    """``gating_figure`` saved to ``path``; None when there is nothing to draw."""
    return _saved(gating_figure(runs, family, order), path)


def gating_figure(runs: Sequence[Run], family: str, order: Sequence[str] | None = None) -> Figure | None:
    """For strategies whose sleep trained the student: the batch gain and the distillation loss
    logged during sleep, sleep phases laid end to end (mean over seeds, band: seed range; the
    logged points are spread evenly over each phase's updates), and the per-phase dopamine-like
    and acetylcholine-like means. None if no run slept. Legend beside the panels. Size: 3 x 1
    panels of ``PANEL`` plus ``LEGEND_WIDTH``."""
    family_runs = [r for r in runs if r.family == family]
    everyone = strategy_order({r.strategy for r in family_runs}, order)  # styles as in the other figures
    colours, dashes = strategy_colours(everyone), strategy_dashes(everyone)
    runs = [r for r in family_runs if r.slept]
    if not runs:
        return None
    strategies = strategy_order({r.strategy for r in runs}, order)
    fig, axes = plt.subplots(1, 3, figsize=(3 * PANEL[0] + LEGEND_WIDTH, PANEL[1]), layout="constrained")
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
                             color=colours[strategy], ls=dashes[strategy], lw=0.8)
    axes[0].set(title="batch gain (gating)", xlabel="sleep updates (phases end to end)")
    axes[1].set(title="distillation loss", xlabel="sleep updates (phases end to end)", yscale="log")
    axes[2].set(title="neuromodulator means per sleep", xlabel="sleep phase")
    axes[2].xaxis.get_major_locator().set_params(integer=True)
    for ax in axes:
        ax.title.set_fontsize(9)
    markers = [Line2D([], [], color="0.3", marker=m, ls="none", label=f"{name} (right panel)")
               for m, name in (("o", "dopamine-like"), ("^", "acetylcholine-like"))]
    _figure_legend(fig, axes[:2], extra=markers, order=everyone)
    fig.suptitle(f"{family}: sleep (mean over seeds, band: seed range)", fontsize=9)
    return fig


def aba_curve(aba: pd.DataFrame, path: Path, order: Sequence[str] | None = None) -> Path | None:
    """ABA gap paradigm: retention of A after B (cortex, student) and savings on relearning A
    against the number k of sleeps between A and B, per strategy: mean over seeds, bars: seed
    range. None if ``aba`` is empty. Legend beside the panels. Size: 3 x 1 panels of ``PANEL`` plus
    ``LEGEND_WIDTH``."""
    if aba.empty:
        return None
    labels = {(f, s): (s if aba["family"].nunique() == 1 else f"{f} {s}")
              for f, s in aba[["family", "strategy"]].drop_duplicates().itertuples(index=False)}
    strategies = strategy_order(aba["strategy"], order)
    colours = strategy_colours(strategies)
    fig, axes = plt.subplots(1, 3, figsize=(3 * PANEL[0] + LEGEND_WIDTH, PANEL[1]), layout="constrained")
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
    _figure_legend(fig, axes)
    fig.suptitle("ABA gap: mean over seeds, bars: seed range", fontsize=9)
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


def _note_height(note: str) -> float:
    """Inches a figure grows by for its note under the panels: 0.15 per line."""
    return 0.15 * (note.count("\n") + 1) if note else 0.0


def _with_seeds(stack: np.ndarray, runs: Sequence[Run]) -> np.ndarray:
    """One row per run: its seed, then its entry of ``stack`` (axis 0: runs) flattened; arrays
    of other seeds never compare equal in ``identical_groups``."""
    flat = np.asarray(stack, dtype=float).reshape(len(runs), -1)
    return np.column_stack([np.array([r.seed for r in runs], dtype=float), flat])


def _out_of_range(ax, limits: tuple[float, float], y: float, value: float, colour) -> None:
    """A row beyond a clipped panel: an arrow at the edge it lies past, with its value."""
    left = value < limits[0]
    edge = limits[0] if left else limits[1]
    ax.plot(edge, y, marker="<" if left else ">", ms=7, color=colour, clip_on=False, ls="none")
    ax.annotate(f"{value:.2f}", (edge, y), xytext=(8 if left else -8, 0), textcoords="offset points",
                ha="left" if left else "right", va="center", fontsize=7, color=colour)


def _figure_legend(fig, axes, extra: Sequence = (), order: Sequence[str] = ()) -> None:
    """One legend for the whole figure, outside the panels on the right (the figure must use the
    constrained layout, which makes room for it): each label of ``axes`` once, those in
    ``order`` first and in its order, then ``extra``."""
    handles, labels = [], []
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    rank = {name: i for i, name in enumerate(order)}
    ranked = sorted(range(len(labels)), key=lambda i: rank.get(labels[i], len(rank)))
    handles, labels = [handles[i] for i in ranked], [labels[i] for i in ranked]
    handles += list(extra)
    labels += [h.get_label() for h in extra]
    if handles:
        fig.legend(handles, labels, loc="outside right center", fontsize=7, frameon=False)


def _saved(fig: Figure | None, path: Path) -> Path | None:
    return None if fig is None else _save(fig, path)


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
