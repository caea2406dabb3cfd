"""scripts/report.py and reporting/: hand-made runs (tiny R matrices, only the
fields the report reads), checked against values worked by hand and against independent
numpy/scipy computations of the same statistics.

The synthetic benchmark: families reach and balance, strategies ``full`` (sleeps: student and
cortex) and ``none`` (never sleeps: cortex only), 5 seeds. Protocol wake A, sleep, wake B,
sleep, a test after each. With a = cortex's final score on A and s = student's:
cortex: avg perf (a + 1) / 2, A learned 1, B learned 1, A lost 1 - a, A kept a, A at end a;
student: the same with s, fidelity 1, parameter ratio 0.1; FT B -0.1 (curves below).
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from PIL import Image

from reporting import intervals, plots, runs, tables, tidy

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("report_script", ROOT / "scripts" / "report.py")
report_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report_script)
REPS = 200
SEED = 7
SEEDS = range(5)
CORTEX_A = {"reach": [0.1, 0.3, -0.2, 0.5, 0.0], "balance": [0.4, 0.2, 0.55, 0.3, 0.1]}
STUDENT_A = {"reach": [0.9, 0.8, 0.95, 0.7, 0.85], "balance": [0.75, 0.9, 0.6, 0.8, 0.7]}
CURVE_A = {"steps": [1000, 2000, 3000, 4000], "score": [0.2, 0.4, 0.6, 0.8]}
CURVE_B = {"steps": [1000, 2000, 3000, 4000, 5000, 6000], "score": [0.0, 0.2, 0.4, 0.6, 0.8, 0.9]}
# the benchmark's A reaches 0.9 at 5000 steps: over [0, 5000] A holds 0.2 to 1000 then rises to
# 1.0 (mean 0.52), B holds 0.0 then rises to 0.8 (mean 0.32): bounded FT B = (0.32 - 0.52) / 2 = -0.1
CURVE_A_FROM_SCRATCH = {"steps": [1000, 2000, 3000, 4000, 5000], "score": [0.2, 0.4, 0.6, 0.8, 1.0]}
README_TEXT = ("# title\n\nBefore the block: keep me.\n\n<!-- other:start -->\nother block\n<!-- other:end -->\n\n"
               "<!-- results:start -->\nold results\n<!-- results:end -->\n\nAfter the block: keep me too.\n")


def _sleep(index: int, strategy: str, slept: bool, seed: int) -> dict:
    record = {"index": index, "kind": "sleep", "name": "sleep", "strategy": strategy, "skipped": not slept}
    if slept:
        record.update(updates=100, gain_curve=[1.0 + 0.1 * seed, 1.2, 1.1], loss_curve=[1.0, 0.5, 0.1 + 0.01 * seed],
                      gating={"dopamine_mean": 0.2, "acetylcholine_mean": 0.7})
    return record


def ab_results(family: str, strategy: str, seed: int, cortex_a: float, student_a: float, slept: bool) -> dict:
    """A finished A-sleep-B-sleep run with a test after every phase (8 phases, 4 rows of R)."""
    phases = [{"index": 0, "kind": "wake", "name": "wake_A", "context": "A", "curve": CURVE_A_FROM_SCRATCH,
               "seconds": 30.0},
              {"index": 1, "kind": "test", "name": "test"}, _sleep(2, strategy, slept, seed),
              {"index": 3, "kind": "test", "name": "test"},
              {"index": 4, "kind": "wake", "name": "wake_B", "context": "B", "curve": CURVE_B, "seconds": 60.0},
              {"index": 5, "kind": "test", "name": "test"}, _sleep(6, strategy, slept, seed),
              {"index": 7, "kind": "test", "name": "test"}]
    student = [[0.0, 0.0], [1.0, -1.0], [1.0, -1.0], [student_a, 1.0]] if slept else [[-0.3, -0.3]] * 4
    return {"family": family, "seed": seed, "tasks": ["A", "B"], "phases": phases,
            "R": {"cortical": [[1.0, -1.0], [1.0, -1.0], [cortex_a, 1.0], [cortex_a, 1.0]], "subcortical": student},
            "trained_rows": {"cortical": [0, 2], "subcortical": [1, 3]},
            "parameters": {"subcortical": 100, "cortical_actor": 1000}}


def write_benchmark(root: Path, layout: str = "family/strategy/seed") -> Path:
    for family in CORTEX_A:
        for seed in SEEDS:
            for strategy, slept in (("full", True), ("none", False)):
                results = ab_results(family, strategy, seed, CORTEX_A[family][seed], STUDENT_A[family][seed], slept)
                folder = root / family / strategy if layout == "family/strategy/seed" else root / strategy
                if layout == "strategy/seed" and family != "reach":
                    continue
                (folder / f"seed{seed}").mkdir(parents=True, exist_ok=True)
                (folder / f"seed{seed}" / "results.json").write_text(json.dumps(results))
    return root


def aba_results(gap: int, seed: int, cortex_after_b: float) -> dict:
    """ABA: wake A, k sleeps, wake B, relearn A, sleep; a test after each phase."""
    phases = [{"kind": "wake", "name": "wake_A", "context": "A", "curve": CURVE_A}, {"kind": "test"}]
    for _ in range(gap):
        phases += [{"kind": "sleep", "name": "sleep", "strategy": "gated", "skipped": False}, {"kind": "test"}]
    phases += [{"kind": "wake", "name": "wake_B", "context": "B", "curve": CURVE_B}, {"kind": "test"},
               # relearning reaches 0.8 * 0.8 of the first wake's final score at 1000 steps (first: 4000)
               {"kind": "wake", "name": "wake_A", "context": "A",
                "curve": {"steps": [1000, 2000], "score": [0.7, 0.8]}}, {"kind": "test"},
               {"kind": "sleep", "name": "sleep", "strategy": "gated", "skipped": False}, {"kind": "test"}]
    for index, phase in enumerate(phases):
        phase["index"] = index
    cortex = [[1.0, -1.0]] * (1 + gap) + [[cortex_after_b, 1.0], [1.0, 0.5], [1.0, 0.5]]
    student = [[0.0, 0.0]] + [[0.9, -1.0]] * gap + [[0.9, -1.0], [0.9, -1.0], [0.95, 0.6]]
    return {"family": "reach", "seed": seed, "tasks": ["A", "B"], "phases": phases,
            "R": {"cortical": cortex, "subcortical": student},
            "trained_rows": {"cortical": [len(cortex) - 2, 1 + gap], "subcortical": [len(cortex) - 1, None]},
            "parameters": {"subcortical": 100, "cortical_actor": 1000}}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One full report over the synthetic benchmark: saved copies, ABA runs, timing, README."""
    tmp = tmp_path_factory.mktemp("report")
    root = write_benchmark(tmp / "runs")
    for gap, after_b in ((0, 0.2), (2, 0.5)):
        for seed in (0, 1):
            folder = tmp / "aba" / f"gap{gap}" / f"seed{seed}"
            folder.mkdir(parents=True)
            (folder / "results.json").write_text(json.dumps(aba_results(gap, seed, after_b + 0.1 * seed)))
    timing = {"minutes": 12.5, "runs": 20, "jobs": 2, "cache": True,
              "cache_timing": {"grid": "reach x none gated x seed 100", "minutes_without_cache": 48.0,
                               "minutes_with_cache": 20.25}}
    (tmp / "timing.json").write_text(json.dumps(timing))
    readme = tmp / "README.md"
    readme.write_text(README_TEXT)
    out = tmp / "out"
    code = report_script.main(["--runs", str(root), "--out", str(out), "--name", "synthetic", "--save-runs",
                               "--aba", str(tmp / "aba"), "--timing", str(tmp / "timing.json"),
                               "--readme", str(readme), "--reps", str(REPS), "--bootstrap-seed", str(SEED)])
    assert code == 0
    return {"tmp": tmp, "root": root, "out": out, "readme": readme, "timing": timing,
            "frame": tidy.read_csv(out / "runs.csv"), "summary": pd.read_csv(out / "summary.csv")}


def _values(frame, family, strategy, policy, metric) -> np.ndarray:
    chosen = frame[(frame["family"] == family) & (frame["strategy"] == strategy) & (frame["policy"] == policy)
                   & (frame["metric"] == metric)].sort_values("seed")
    return chosen["value"].to_numpy(dtype=float)


def _stratified_bootstrap(values, statistic, reps: int, seed: int) -> tuple[float, float]:
    """Percentile 95% interval of ``statistic`` over seeds resampled with replacement, drawing
    indices as rliable's StratifiedBootstrap does (one task: np.random.choice(n, (n, 1)))."""
    x = np.asarray(values, dtype=float).reshape(-1, 1)
    rng_state = np.random.get_state()
    np.random.seed(seed)
    stats = [statistic(x[np.random.choice(len(x), x.shape, replace=True), 0]) for _ in range(reps)]
    np.random.set_state(rng_state)
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


# -- per-run metrics ------------------------------------------------------------------------------

def test_per_run_metrics_are_the_hand_values(built):
    frame = built["frame"]
    for family in CORTEX_A:
        a, s = np.array(CORTEX_A[family]), np.array(STUDENT_A[family])
        for strategy in ("full", "none"):
            values = {metric: _values(frame, family, strategy, "cortex", metric) for metric in tidy.METRICS}
            np.testing.assert_allclose(values["bounded_average_performance"], (a + 1) / 2)
            np.testing.assert_allclose(values["learned_first"], 1.0)
            np.testing.assert_allclose(values["learned_second"], 1.0)
            np.testing.assert_allclose(values["retention_drop_first"], 1 - a)
            np.testing.assert_allclose(values["retention_ratio_first"], a)
            np.testing.assert_allclose(values["final_first"], a)
            np.testing.assert_allclose(values["bounded_forward_transfer_second"], -0.1)
            np.testing.assert_allclose(values["max_raw_score"], 1.0)   # the highest entry of each R
        np.testing.assert_allclose(_values(frame, family, "full", "student", "bounded_average_performance"),
                                   (s + 1) / 2)
        np.testing.assert_allclose(_values(frame, family, "full", "student", "retention_drop_first"), 1 - s)
        np.testing.assert_allclose(_values(frame, family, "full", "student", "final_first"), s)
        np.testing.assert_allclose(_values(frame, family, "full", "student", "fidelity_first"), 1.0)
        np.testing.assert_allclose(_values(frame, family, "full", "student", "parameter_ratio"), 0.1)


def test_a_strategy_whose_sleep_was_skipped_has_no_student_values_and_no_student_row(built):
    none_student = built["frame"][(built["frame"]["strategy"] == "none") & (built["frame"]["policy"] == "student")]
    assert len(none_student) == 2 * 5 * len(tidy.POLICY_METRICS["student"])
    assert none_student["value"].isna().all() and not none_student["slept"].any()
    text = (built["out"] / "report.md").read_text()
    assert "| none | cortex | 5 |" in text and "| none | student |" not in text
    assert "| full | student | 5 |" in text and "| full | cortex | 5 |" in text


# -- aggregates over seeds ------------------------------------------------------------------------

def test_table_estimates_equal_numpy_and_scipy_over_seeds(built):
    summary, frame = built["summary"], built["frame"]
    checked = 0
    for row in summary.itertuples():
        values = _values(frame, row.family, row.strategy, row.policy, row.metric)
        if not np.isfinite(values).any():
            assert row.n == 0 and math.isnan(row.mean)
            continue
        assert row.n == 5 and row.runs == 5
        assert row.mean == pytest.approx(np.mean(values))
        assert row.iqm == pytest.approx(scipy.stats.trim_mean(values, 0.25))
        for name in ("iqm", "mean"):
            assert getattr(row, f"{name}_low") <= getattr(row, name) <= getattr(row, f"{name}_high")
        checked += 1
    assert checked == 2 * (10 + 10 + 9)  # per family: none cortex, full cortex, full student (cortex: 2 step counts)


@pytest.mark.parametrize("aggregate, statistic", [("mean", np.mean),
                                                  ("iqm", lambda x: scipy.stats.trim_mean(x, 0.25))])
def test_interval_is_the_stratified_bootstrap_over_seeds_with_the_fixed_seed(built, aggregate, statistic):
    row = built["summary"].query("family == 'reach' and strategy == 'full' and policy == 'student' "
                                 "and metric == 'final_first'").iloc[0]
    low, high = _stratified_bootstrap(STUDENT_A["reach"], statistic, REPS, SEED)
    assert row[f"{aggregate}_low"] == pytest.approx(low) and row[f"{aggregate}_high"] == pytest.approx(high)
    assert high - low > 0.05  # five different seeds: not a degenerate interval


def test_two_seed_interval_is_the_whole_range_and_equal_seeds_give_none():
    # resampled means of (0, 1) are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: both ends hold far
    # more than 2.5% of the mass, so the percentile interval is exactly [0, 1]
    assert intervals.interval([0.0, 1.0], "mean", REPS, SEED) == (0.5, 0.0, 1.0)
    assert intervals.interval([0.3, 0.3, 0.3], "iqm", REPS, SEED) == (0.3, 0.3, 0.3)
    assert intervals.interval([math.nan, 0.0, 1.0, math.nan], "mean", REPS, SEED) == (0.5, 0.0, 1.0)
    assert all(math.isnan(v) for v in intervals.interval([math.nan], "mean", REPS, SEED))


def test_intervals_are_reproducible_and_leave_the_global_generator_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = intervals.interval([0.1, 0.5, 0.2, 0.9, 0.4], "iqm", REPS, SEED)
    assert np.array_equal(np.random.get_state()[1], before)
    intervals.interval([3.0, 1.0, 2.0], "mean", REPS, SEED + 1)  # another estimate in between
    assert intervals.interval([0.1, 0.5, 0.2, 0.9, 0.4], "iqm", REPS, SEED) == first


def test_seed_level_interval_is_wide_where_an_episode_bootstrap_would_be_falsely_tight(tmp_path):
    # five seeds far apart, each with 100 evaluation episodes of one identical value: the report
    # sees one score per seed (R holds the mean over episodes), so its interval reflects seeds
    finals = [0.0, 0.25, 0.5, 0.75, 1.0]
    for seed, a in enumerate(finals):
        folder = tmp_path / "reach" / "none" / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(ab_results("reach", "none", seed, a, 0.0, False)))
    frame = tidy.tidy_frame(runs.load_runs(tmp_path))
    cell = intervals.summarise(frame, REPS, SEED).query("policy == 'cortex' and metric == 'final_first'").iloc[0]
    assert (cell["mean_low"], cell["mean_high"]) == pytest.approx(_stratified_bootstrap(finals, np.mean, REPS, SEED))
    episodes = np.repeat(finals, 100)
    rng = np.random.default_rng(0)
    means = [rng.choice(episodes, episodes.size, replace=True).mean() for _ in range(REPS)]
    episode_low, episode_high = np.percentile(means, [2.5, 97.5])
    report_width, episode_width = cell["mean_high"] - cell["mean_low"], episode_high - episode_low
    assert report_width > 0.4 and episode_width < 0.1 and report_width > 5 * episode_width


def test_probability_of_improvement_of_a_dominating_strategy_is_one(built):
    poi = pd.read_csv(built["out"] / "improvement.csv")
    # the full student keeps more of A than the none cortex on every seed, in both families
    rows = poi[poi["metric"] == "final_first"]
    assert len(rows) == 2 and set(rows["other"]) == {"none"} and set(rows["policy"]) == {"student"}
    assert (rows["probability"] == 1.0).all() and (rows["low"] == 1.0).all() and (rows["high"] == 1.0).all()
    assert intervals.improvement([0.2, 0.4], [0.2, 0.4], REPS, SEED)[0] == 0.5
    assert intervals.improvement([0.0, 0.1], [0.5, 0.6], REPS, SEED) == (0.0, 0.0, 0.0)


# -- outputs --------------------------------------------------------------------------------------

def test_readme_block_replaced_and_nothing_else_changes(built):
    text = built["readme"].read_text()
    start, end = "<!-- results:start -->\n", "\n<!-- results:end -->"
    head, rest = text.split(start)
    body, tail = rest.split(end)
    assert head + start == README_TEXT.split("old results")[0]
    assert end + tail == "\n" + README_TEXT.split("old results\n")[1]
    assert "old results" not in text and "other block" in text
    assert "python scripts/report.py --from-csv" in body and "--readme" in body
    assert "| reach | " not in body and "**reach**: IQM [95% CI]" in body and "**balance**: mean [95% CI]" in body
    assert "(out/figures/reach_R.png)" in body  # links relative to the README


def test_readme_without_markers_fails_by_name_and_is_left_as_it_was(built, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# no block here\n")
    code = report_script.main(["--from-csv", str(built["out"] / "runs.csv"), "--out", str(tmp_path / "o"),
                               "--reps", "20", "--no-figures", "--readme", str(readme)])
    assert code == 2 and "<!-- results:start -->" in capsys.readouterr().err
    assert readme.read_text() == "# no block here\n"


def test_timing_is_reported_as_measured_and_na_when_absent(built):
    text = (built["out"] / "report.md").read_text()
    assert ("Benchmark time: 12.5 min for 20 runs on 2 worker(s) with the phase cache; the cache on a "
            "smaller grid (reach x none gated x seed 100) in the same run: 48.0 min without, "
            "20.2 min with it; ") in text
    # the runs' own phase times: 2 strategies x 5 seeds x (30 + 60) s per family = 15 min
    assert json.loads((built["out"] / "timing.json").read_text()) == \
        {**built["timing"], "worker_minutes": {"balance": 15.0, "reach": 15.0}}
    assert "; worker time of the runs' phases (each phase's wall time, summed; cached phases count once): " \
           "balance 15.0 min, reach 15.0 min." in text
    assert tables.timing_line(None) == "Benchmark time: n/a."
    assert tables.timing_line({"worker_minutes": {"reach": 3.0}}).startswith(
        "Benchmark time: n/a (no wall time of the whole grid); worker time")


def test_plasticity_is_read_from_the_wake_curves(built):
    """A's curve reaches 0.9 at 5000 steps, B's (from A's weights) at 6000: ratio 1.2 on every seed."""
    frame = built["frame"]
    assert set(_values(frame, "reach", "none", "cortex", "steps_to_learn_first")) == {5000.0}
    assert set(_values(frame, "reach", "none", "cortex", "steps_to_learn_second")) == {6000.0}
    assert "within 1.5x the steps A took from scratch on 5 of 5 seeds (median ratio 1.20" in \
        (built["out"] / "report.md").read_text()
    assert tables.read_timing(built["tmp"] / "missing.json") is None


def test_started_adds_the_time_since_then_to_the_saved_timing_and_the_line(built, tmp_path):
    """scripts/reproduce.sh passes the benchmark's start: the minutes to the tables are kept in
    out/timing.json, so that a rebuild from results/ quotes them too."""
    import time

    out = tmp_path / "out"
    code = report_script.main(["--from-csv", str(built["out"] / "runs.csv"), "--out", str(out), "--no-figures",
                               "--timing", str(built["tmp"] / "timing.json"), "--reps", str(REPS),
                               "--started", str(time.time() - 90.0)])
    assert code == 0
    saved = json.loads((out / "timing.json").read_text())
    assert 1.5 <= saved["end_to_end_minutes"] < 3.0
    assert {k: v for k, v in saved.items() if k not in ("end_to_end_minutes", "worker_minutes")} == built["timing"]
    line = tables.timing_line(saved)
    assert line.endswith(f"; end to end (scripts/reproduce.sh after its setup: the cache timing, the runs and this "
                         f"report) {saved['end_to_end_minutes']:.1f} min.")
    assert line in (out / "report.md").read_text()


@pytest.mark.parametrize("started", ["-5", "1e12"])
def test_started_in_the_future_or_before_1970_is_refused(built, tmp_path, started, capsys):
    with pytest.raises(SystemExit):
        report_script.main(["--from-csv", str(built["out"] / "runs.csv"), "--out", str(tmp_path / "o"),
                            "--timing", str(built["tmp"] / "timing.json"), "--started", started])
    assert "--started" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_figures_exist_and_have_the_stated_sizes(built):
    figures = built["out"] / "figures"
    # inches, from the formulas in plots.py for 2 strategies, 4 test rows, 2 tasks, 3 table rows. The
    # cortex of full is none's in every seed: drawn once, with one note line under R, retention and
    # intervals; R has 2 panels (none cortex, full student) and a line naming none as never slept;
    # the intervals draw 2 rows and 4 panels, A learned, B learned, FT B, fidelity and the parameter
    # ratio having one value in every run (5 note lines)
    note = 0.15
    expected = {
        "reach_R.png": (2 * (0.9 + 0.75 * 2) + 1.2, 0.9 + (0.7 + 0.3 * 4) * 1 + 2 * note),
        "reach_retention.png": (2 * 4.4 + plots.LEGEND_WIDTH, 3.4 + note),
        "reach_intervals.png": (3 * 3.6, 2 * (0.8 + 0.22 * 2) + 0.5 + 6 * note),
        "reach_kept_vs_learned.png": (2 * 4.6 + 1.8, 4.2),
        "reach_sleep.png": (3 * plots.PANEL[0] + plots.LEGEND_WIDTH, plots.PANEL[1]),
        "aba_gap.png": (3 * plots.PANEL[0] + plots.LEGEND_WIDTH, plots.PANEL[1]),
    }
    for name, (width, height) in expected.items():
        with Image.open(figures / name) as image:
            assert image.format == "PNG"
            assert image.size == (round(width * plots.DPI), round(height * plots.DPI)), name
            assert np.asarray(image.convert("L")).std() > 5, f"{name} is blank"
    assert (figures / "balance_R.png").is_file() and (figures / "balance_sleep.png").is_file()


def test_saved_copies_are_verbatim_and_rebuild_the_same_report_from_the_csv(built, tmp_path):
    out = built["out"]
    for family in CORTEX_A:
        for seed in SEEDS:
            saved = out / family / "full" / f"seed{seed}.json"
            assert saved.read_bytes() == (built["root"] / family / "full" / f"seed{seed}" / "results.json").read_bytes()
    assert (out / "aba" / "reach" / "gap2" / "gated" / "seed1.json").is_file()
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("figures", "summary.csv", "report.md"))
    code = report_script.main(["--from-csv", str(copy / "runs.csv"), "--reps", str(REPS), "--no-figures",
                               "--bootstrap-seed", str(SEED), "--timing", str(copy / "timing.json")])
    assert code == 0
    pd.testing.assert_frame_equal(pd.read_csv(copy / "summary.csv"), built["summary"])
    before, after = (out / "report.md").read_text(), (copy / "report.md").read_text()
    def tables_of(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith(("|", "End-to-end"))]
    assert tables_of(before) == tables_of(after) and len(tables_of(before)) > 20
    assert "figures/aba_gap.png" in before and "aba_gap" not in after  # no figures asked for
    # the figures that need R read the saved copies beside the CSV: the same runs as the originals
    assert runs.detect_layout(copy) == "saved"
    pd.testing.assert_frame_equal(tidy.tidy_frame(runs.load_runs(copy)), built["frame"], check_dtype=False)


def test_aba_measures_follow_the_gap(built):
    aba = tidy.read_csv(built["out"] / "aba.csv", tidy.ABA_COLUMNS)
    cortex = aba[(aba["policy"] == "cortex") & (aba["metric"] == "retention_after_second")]
    np.testing.assert_allclose(cortex.sort_values(["gap", "seed"])["value"], [0.2, 0.3, 0.5, 0.6])
    student = aba[(aba["policy"] == "student") & (aba["metric"] == "retention_after_second")]
    assert student[student["gap"] == 0]["value"].isna().all()  # no sleep before B: nothing to retain
    np.testing.assert_allclose(student[student["gap"] == 2]["value"], 1.0)
    np.testing.assert_allclose(aba[aba["metric"] == "savings_first"]["value"], 0.75)  # (4000 - 1000) / 4000
    assert runs.aba_gap(aba_results(4, 0, 0.1)) == 4


# -- inputs ---------------------------------------------------------------------------------------

def test_the_strategy_seed_layout_is_detected_and_the_family_read_from_the_file(tmp_path):
    root = write_benchmark(tmp_path, layout="strategy/seed")
    assert runs.detect_layout(root) == "strategy/seed"
    loaded = runs.load_runs(root)
    assert {(r.family, r.strategy) for r in loaded} == {("reach", "full"), ("reach", "none")} and len(loaded) == 10


def test_bad_inputs_are_refused_naming_the_file_and_field(tmp_path):
    results = ab_results("reach", "none", 0, 0.1, 0.0, False)
    del results["R"]["cortical"]
    path = tmp_path / "reach" / "none" / "seed0" / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(results))
    with pytest.raises(ValueError, match=r"seed0/results.json: field 'R.cortical' is missing"):
        runs.load_runs(tmp_path)
    path.write_text(json.dumps({**ab_results("reach", "none", 3, 0.1, 0.0, False)}))
    with pytest.raises(ValueError, match=r"field 'seed' is 3 but the path says seed 0"):
        runs.load_runs(tmp_path)
    with pytest.raises(ValueError, match="no finished run"):
        runs.load_runs(tmp_path / "reach" / "none")
    (tmp_path / "bad.csv").write_text("family,strategy,seed\nreach,none,0\n")
    with pytest.raises(ValueError, match=r"columns \['slept', 'policy', 'metric', 'value'\] are missing"):
        tidy.read_csv(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="reps"):
        intervals.interval([0.1, 0.2], "mean", 0, SEED)
