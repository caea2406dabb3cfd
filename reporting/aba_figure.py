"""The ABA-gap figure: the human pattern beside the model's, one panel each.

Left, the human pattern, qualitative (no human numbers are drawn): retention of A at the retest
is lost when B follows A within minutes and kept when hours separate them (Brashers-Krug,
Shadmehr and Bizzi 1996; Shadmehr and Brashers-Krug 1997). Right, the model: A's bounded score
at the retest against the number of sleeps k between A and B, one line per condition and
strategy, with its 95% bootstrap interval, and A's score just before B dashed (what there was to
keep); beside it the savings on relearning A against k. Size: about 2.7 panels of ``PANEL``
plus the legend column.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reporting.plots import LEGEND_WIDTH, PANEL, _figure_legend, _saved, plt


def aba_figure(summary: pd.DataFrame, path: Path) -> Path:
    """Draw ``summary`` (reporting.paradigms.summary) to ``path``; returns the path."""
    fig, (human, model, savings) = plt.subplots(1, 3, figsize=(2.7 * PANEL[0] + LEGEND_WIDTH, PANEL[1]),
                                                gridspec_kw={"width_ratios": [0.7, 1.1, 0.9]}, layout="constrained")
    human.bar([0, 1], [0.1, 0.9], color=["#c44e52", "#55a868"], width=0.6)
    human.set_xticks([0, 1], ["B 5 min\nafter A", "B 4 h\nafter A"])
    human.set_yticks([])
    human.set_ylim(0, 1)
    human.set_ylabel("A kept at retest (qualitative)")
    human.set_title("people (Brashers-Krug et al. 1996)", fontsize=9)
    cells = summary[["condition", "strategy"]].drop_duplicates().itertuples(index=False, name=None)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (condition, strategy) in enumerate(cells):
        colour = colours[i % len(colours)]
        mine = summary[(summary["condition"] == condition) & (summary["strategy"] == strategy)]
        retest = mine[mine["measure"] == "A_retest"].sort_values("gap")
        before = mine[mine["measure"] == "A_before_B"].sort_values("gap")
        label = f"{condition}, {strategy}"
        mean, low, high = (retest[c].to_numpy(float) for c in ("mean", "low", "high"))
        model.errorbar(retest["gap"].to_numpy(), mean, yerr=[mean - low, high - mean],
                       marker="o", capsize=3, color=colour, label=f"{label}: A at retest")
        model.plot(before["gap"].to_numpy(), before["mean"].to_numpy(float), linestyle="--", marker="x",
                   color=colour, alpha=0.6, label=f"{label}: A before B")
        saved = mine[mine["measure"] == "savings"].sort_values("gap")
        mean, low, high = (saved[c].to_numpy(float) for c in ("mean", "low", "high"))
        savings.errorbar(saved["gap"].to_numpy(), mean, yerr=[mean - low, high - mean], marker="s", capsize=3,
                         color=colour, label=f"{label}: savings")
    gaps = sorted(summary["gap"].unique())
    model.set_xticks(gaps)
    model.set_xlabel("sleeps k between A and B")
    model.set_ylabel("A, bounded score")
    model.set_ylim(-1.05, 1.05)
    model.axhline(0, color="grey", linewidth=0.6)
    model.set_title("model: A (behaviour; 95% intervals over seeds)", fontsize=9)
    savings.set_xticks(gaps)
    savings.set_xlabel("sleeps k between A and B")
    savings.set_ylabel("savings on relearning A")
    savings.axhline(0, color="grey", linewidth=0.6)
    savings.set_title("model: savings (1 = at once, 0 = no faster)", fontsize=9)
    _figure_legend(fig, [model, savings])
    return _saved(fig, path)
