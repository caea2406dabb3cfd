"""reporting/plots.py: figures a reader takes in at a glance, checked on the artists of real
matplotlib figures built from small hand-made runs and summaries.

What is checked: the R colour scale spans the data (raw scores far below -1 included) and the
cell text reads on its cell; a cortex identical in every seed to another strategy's is drawn
once, with a note naming the others; a metric with one value everywhere gets no panel; the
unbounded ratio is cut at its display range, rows beyond drawn as arrows with their value;
legends sit outside the panels; sizes follow the formulas the docstrings state.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reporting import plots
from reporting.runs import Run
from reporting.tidy import METRICS

SEEDS = (0, 1, 2)
TASKS = ["A", "B"]
FINE_TUNED = [[0.9, -2.0], [0.9, -2.0], [-3.2, 0.95], [-3.2, 0.95]]  # A forgotten far below the bounded range


def _results(cortex, student, slept: bool) -> dict:
    """wake A, test, sleep, test, wake B, test, sleep, test: 4 rows of R."""
    phases = []
    for index, (kind, name) in enumerate([("wake", "wake_A"), ("test", "test"), ("sleep", "sleep"), ("test", "test"),
                                          ("wake", "wake_B"), ("test", "test"), ("sleep", "sleep"),
                                          ("test", "test")]):
        phase = {"index": index, "kind": kind, "name": name}
        if kind == "sleep":
            phase.update(skipped=not slept, updates=10, gain_curve=[1.0, 1.1], loss_curve=[1.0, 0.5],
                         gating={"dopamine_mean": 0.2, "acetylcholine_mean": 0.7})
        phases.append(phase)
    return {"family": "reach", "tasks": TASKS, "phases": phases, "R": {"cortical": cortex, "subcortical": student}}


def _runs() -> list[Run]:
    """none (fine-tuning), gated (sleeps; the same cortex as none in every seed) and ewc (its own
    cortex, no sleep), three seeds each."""
    runs = []
    for seed in SEEDS:
        shift = 0.01 * seed
        student = [[0.0, 0.0], [0.9 + shift, -1.0], [0.9, -1.0], [0.7 - shift, 0.5]]
        ewc = [[0.9, -1.0], [0.9, -1.0], [0.8 + shift, 0.2], [0.8 + shift, 0.2]]
        for strategy, cortex, slept in (("none", FINE_TUNED, False), ("gated", FINE_TUNED, True),
                                        ("ewc", ewc, False)):
            runs.append(Run("reach", strategy, seed, Path(f"{strategy}/seed{seed}"),
                            _results(cortex, student if slept else [[0.0, 0.0]] * 4, slept)))
    return runs


def _summary(rows: dict[tuple[str, str], dict[str, float]]) -> pd.DataFrame:
    """A report summary: per (strategy, policy), metric -> point; intervals +-0.05 around it."""
    records = []
    for (strategy, policy), values in rows.items():
        for metric, point in values.items():
            low, high = (point, point) if metric == "parameter_ratio" else (point - 0.05, point + 0.05)
            records.append({"family": "reach", "strategy": strategy, "policy": policy, "metric": metric,
                            "runs": 3, "n": 3, "iqm": point, "iqm_low": low, "iqm_high": high,
                            "mean": point, "mean_low": low, "mean_high": high})
    return pd.DataFrame(records)


CORTEX = {"bounded_average_performance": 0.1, "learned_first": 0.9, "learned_second": 0.95,
          "retention_drop_first": 1.8, "retention_ratio_first": -3.3, "final_first": -1.0,
          "bounded_forward_transfer_second": 0.05}
STUDENT = {"bounded_average_performance": 0.6, "learned_first": 0.9, "learned_second": -0.4,
           "retention_drop_first": 0.2, "retention_ratio_first": 0.8, "final_first": 0.7,
           "fidelity_first": 0.99, "parameter_ratio": 0.0214}


@pytest.fixture
def closing():
    """Close every figure a test built (the ``*_figure`` functions leave them open)."""
    yield
    plt.close("all")


def test_heatmap_norm_is_centred_at_zero_and_spans_the_data_and_the_bounded_range():
    norm = plots.heatmap_norm(np.array([[-3.2, 0.5], [np.nan, 0.9]]))
    assert isinstance(norm, matplotlib.colors.TwoSlopeNorm)
    assert (norm.vmin, norm.vcenter, norm.vmax) == (-3.2, 0.0, 1.0)
    norm = plots.heatmap_norm(np.array([-0.2, 1.4]))
    assert (norm.vmin, norm.vmax) == (-1.0, 1.4)  # never narrower than the bounded range


def test_cell_text_is_white_on_dark_cells_and_black_on_light_ones():
    cmap = plt.get_cmap("RdYlGn")
    assert plots.text_colour(cmap(0.0)) == "white"   # dark red
    assert plots.text_colour(cmap(1.0)) == "white"   # dark green
    assert plots.text_colour(cmap(0.5)) == "black"   # pale yellow


def test_heatmaps_colour_the_whole_range_and_draw_an_identical_cortex_once(closing):
    fig = plots.heatmap_figure(_runs(), "reach")
    panels = [ax for ax in fig.axes if ax.images]
    titles = [ax.get_title() for ax in panels]
    # gated's cortex is none's in every seed: one panel, named in the note; ewc and none never slept
    assert titles == ["none cortex (+1 same)", "gated student", "ewc cortex"]
    assert "none cortex stands for gated too" in fig._supxlabel.get_text()
    assert "never slept): none, ewc" in fig._supxlabel.get_text()
    norm = panels[0].images[0].norm
    assert norm.vmin == pytest.approx(-3.2) and norm.vmax == 1.0 and norm.vcenter == 0.0
    assert len({id(ax.images[0].norm) for ax in panels}) == 1  # one scale for every panel
    cmap = panels[0].images[0].cmap
    for ax in panels:
        for text in ax.texts:
            value = float(text.get_text())
            assert text.get_color() == plots.text_colour(cmap(norm(value)))
    assert {t.get_color() for t in panels[1].texts} == {"white", "black"}  # 0.0 on pale yellow, 0.9 on green


def test_seeds_decide_what_is_identical():
    same = np.array([[1.0, np.nan]])
    assert plots.identical_groups({"a": same, "b": same.copy(), "c": same + 1, "d": same}) == {
        "a": ["b", "d"], "c": []}
    runs = _runs()
    none = [r for r in runs if r.strategy == "none"]
    shifted = [Run(r.family, "other", r.seed + 10, r.path, r.results) for r in none]
    stack = np.stack([np.asarray(r.results["R"]["cortical"]) for r in none])
    assert plots.identical_groups({"none": plots._with_seeds(stack, none),
                                   "other": plots._with_seeds(stack, shifted)}) == {"none": [], "other": []}


def test_interval_figure_merges_identical_rows_drops_constant_panels_and_cuts_the_ratio(closing):
    summary = _summary({("none", "cortex"): CORTEX, ("gated", "student"): STUDENT, ("gated", "cortex"): CORTEX,
                        ("full", "student"): {**STUDENT, "final_first": 0.6}, ("full", "cortex"): CORTEX,
                        ("ewc", "cortex"): {**CORTEX, "retention_ratio_first": 0.9, "final_first": 0.8}})
    fig = plots.interval_figure(summary, "reach")
    panels = [ax for ax in fig.axes if ax.axison]
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels == ["none cortex (+2 same)", "gated student", "full student", "ewc cortex"]
    assert len(labels) == len(set(labels))
    note = fig._supxlabel.get_text()
    assert "none cortex stands for gated, full too" in note
    # the parameter ratio is 0.0214 in every student run (point and interval): a note, not a panel
    titles = [ax.get_title() for ax in panels]
    assert "param ratio: 0.0214 in every run (no panel)" in note
    assert not any(t.startswith(METRICS["parameter_ratio"]) for t in titles)
    # A learned is 0.9 in every row too, but its intervals are not one value: it keeps its panel
    assert any(t.startswith(METRICS["learned_first"]) for t in titles)
    # A kept (ratio): -3.3 lies beyond the display range; the axis stops near -1, an arrow marks the row
    ratio = next(ax for ax in panels if ax.get_title().startswith(METRICS["retention_ratio_first"]))
    low, high = ratio.get_xlim()
    start, stop = plots.DISPLAY_RANGE["retention_ratio_first"]
    assert start - 0.2 < low < start and high < stop + 0.2
    assert "cut at -1 and 1.5" in ratio.get_title()
    assert [t.get_text() for t in ratio.texts] == ["-3.30"]
    # a bounded metric is never cut, whatever its spread
    final = next(ax for ax in panels if ax.get_title().startswith(METRICS["final_first"]))
    assert final.get_xlim()[0] < -1.0 and not final.texts


def test_interval_figure_size_follows_its_formula(closing, tmp_path):
    summary = _summary({("none", "cortex"): CORTEX, ("gated", "student"): STUDENT, ("gated", "cortex"): CORTEX})
    path = plots.interval_plot(summary, "reach", tmp_path / "intervals.png")
    fig = plots.interval_figure(summary, "reach")
    panels = sum(ax.axison for ax in fig.axes)
    note_lines = fig._supxlabel.get_text().count("\n") + 1
    assert panels == 8 and note_lines == 2  # param ratio dropped; gated cortex merged into none's: 2 rows drawn
    width, height = 3 * 3.6, int(np.ceil(panels / 3)) * (0.8 + 0.22 * 2) + 0.5 + 0.15 * note_lines
    with Image.open(path) as image:
        assert image.size == (round(width * plots.DPI), round(height * plots.DPI))


def _outside(fig) -> bool:
    """Whether every legend of ``fig`` lies right of every panel (no data under it)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    right = max(ax.get_window_extent(renderer).x1 for ax in fig.axes)
    return bool(legends) and all(legend.get_window_extent(renderer).x0 >= right for legend in legends)


def test_retention_draws_an_identical_cortex_once_with_the_legend_outside(closing):
    fig = plots.retention_figure(_runs(), "reach")
    student, cortex = fig.axes[:2]
    assert [line.get_label() for line in cortex.get_lines() if not line.get_label().startswith("_")] == ["none", "ewc"]
    assert "none cortex stands for gated too" in fig._supxlabel.get_text()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["none", "gated", "ewc"]  # strategy order
    assert _outside(fig)


def test_sleep_curves_have_their_legend_outside_with_the_signal_markers(closing):
    fig = plots.gating_figure(_runs(), "reach")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["gated", "dopamine-like (right panel)", "acetylcholine-like (right panel)"]
    assert _outside(fig)
