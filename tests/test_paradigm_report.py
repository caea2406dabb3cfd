"""The ABA-gap measures and effects (reporting/paradigms.py, scripts/paradigms.py) on hand-built runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reporting import paradigms
from reporting.runs import Run

ROOT = Path(__file__).resolve().parents[1]
W = lambda c: {"kind": "wake", "context": c}  # noqa: E731
S, T = {"kind": "sleep", "strategy": "replay_distill"}, {"kind": "test"}


def _results(gap: int, scores: list[list[float]], savings: float | None = 0.5, seed: int = 0) -> dict:
    """An ABA-gap run's results: A, T, k x (S, T), B, T, A, T, S, T, with R['cortical'] = ``scores``."""
    phases = [W("A"), T, *[p for _ in range(gap) for p in (S, T)], W("B"), T, W("A"), T, S, T]
    assert len(scores) == sum(p["kind"] == "test" for p in phases)
    return {"tasks": ["A", "B"], "family": "reach", "seed": seed, "phases": phases,
            "R": {"cortical": scores, "subcortical": scores},
            "trained_rows": {"cortical": [0, gap + 1], "subcortical": [0, gap + 1]},
            "parameters": {"subcortical": 100, "cortical_actor": 1000},
            "metrics": {"savings": {} if savings is None else {"A": {"savings": savings}}}}


def _run(gap, scores, seed=0, strategy="replay_distill", savings=0.5) -> Run:
    return Run("reach", strategy, seed, Path(f"/x/{gap}/{seed}"), _results(gap, scores, savings, seed))


def test_the_measures_of_one_run_are_read_off_its_rows_on_the_bounded_scale():
    # rows: after A, after sleep 1, after B, after relearning A, after the last sleep
    scores = [[0.95, -2.0], [0.9, -1.5], [-3.0, 0.93], [0.97, -1.0], [0.96, 0.5]]
    measures = paradigms.aba_measures(_results(1, scores, savings=0.75))
    assert measures == {"gap": 1, "A_learned": 0.95, "B_learned": 0.93, "A_before_B": 0.9,
                        "A_retest": -1.0, "A_kept": pytest.approx(-1.9), "savings": 0.75}


def test_at_gap_zero_the_score_before_b_is_the_one_after_a():
    scores = [[0.95, -2.0], [0.2, 0.93], [0.97, -1.0], [0.96, 0.5]]
    measures = paradigms.aba_measures(_results(0, scores, savings=None))
    assert measures["gap"] == 0 and measures["A_before_B"] == 0.95 and measures["A_retest"] == 0.2
    assert math.isnan(measures["savings"])


def test_a_protocol_that_does_not_learn_a_then_b_has_no_measures():
    results = _results(1, [[0.9, 0.0]] * 5)
    results["phases"] = [W("B"), T, W("A"), T]
    assert paradigms.aba_measures(results) is None


def _grid(protected: float, seeds: int = 10) -> list[Run]:
    """k = 0 loses A (retest -1); k = 1 keeps ``protected`` of it, a little noise per seed."""
    runs = []
    for seed in range(seeds):
        e = 0.01 * seed
        runs.append(_run(0, [[0.95, -2.0], [-1.0 + e, 0.95], [0.9, -1.0], [0.96, 0.5]], seed, savings=0.2 + e))
        runs.append(_run(1, [[0.95, -2.0], [0.94, -2.0], [protected + e, 0.95], [0.97, -1.0], [0.96, 0.5]], seed,
                         savings=0.9))
    return runs


def test_the_gap_effect_is_paired_by_seed_and_says_higher_only_when_its_interval_excludes_zero():
    frame = paradigms.aba_frame({"arbitrated": _grid(0.9), "residual": _grid(-1.0)})
    effects = paradigms.gap_effects(frame, reps=200, seed=0)
    retest = effects[(effects["measure"] == "A_retest")].set_index("condition")
    assert retest.loc["arbitrated", "difference"] == pytest.approx(1.9)  # the per-seed noise cancels
    assert paradigms.verdict(retest.loc["arbitrated"]) == "higher"
    assert retest.loc["residual", "difference"] == pytest.approx(0.0)
    assert paradigms.verdict(retest.loc["residual"]) == "no difference detected"
    assert (retest["seeds"] == 10).all() and (retest["against"] == "k=0").all()


def test_a_matched_control_and_two_conditions_are_compared_at_the_same_gap():
    runs = _grid(0.9) + [_run(1, [[0.95, -2.0], [0.94, -2.0], [0.5, 0.95], [0.97, -1.0], [0.96, 0.5]], s,
                              strategy="awake_replay", savings=0.9) for s in range(10)]
    frame = paradigms.aba_frame({"arbitrated": runs, "residual": _grid(-1.0)})
    control = paradigms.control_effects(frame, {"replay_distill": "awake_replay"}, reps=200, seed=0)
    row = control[(control["measure"] == "A_retest")].iloc[0]
    assert (row["gap"], row["against"]) == (1, "awake_replay")
    assert row["difference"] == pytest.approx(np.mean([0.4 + 0.01 * s for s in range(10)]))
    versus = paradigms.condition_effects(frame, "arbitrated", "residual", reps=200, seed=0)
    at_one = versus[(versus["gap"] == 1) & (versus["measure"] == "A_retest")].iloc[0]
    assert at_one["difference"] == pytest.approx(1.9) and paradigms.verdict(at_one) == "higher"


def test_the_floor_counts_seeds_that_learned_both_contexts_to_point_nine():
    runs = _grid(0.9)
    runs[1].results["R"]["cortical"][2][1] = 0.5  # seed 0 at k = 1 misses B: 9 of 10 still meet it
    summary = paradigms.summary(paradigms.aba_frame({"c": runs}), reps=200, seed=0)
    assert paradigms.floor_met(summary, "c", "replay_distill", 1)
    runs[3].results["R"]["cortical"][2][1] = 0.5  # a second seed misses: 8 of 10
    summary = paradigms.summary(paradigms.aba_frame({"c": runs}), reps=200, seed=0)
    assert not paradigms.floor_met(summary, "c", "replay_distill", 1)
    assert paradigms.floor_met(summary, "c", "replay_distill", 0)


def test_a_seed_twice_in_one_condition_is_refused():
    runs = _grid(0.9, seeds=2)
    with pytest.raises(ValueError, match="seed 0 twice"):
        paradigms.aba_frame({"c": runs + runs[:1]})


def test_the_script_writes_tables_a_figure_and_copies_it_can_rebuild_from(tmp_path):
    for run in _grid(0.9, seeds=3):
        folder = tmp_path / "runs" / f"gap{paradigms.aba_measures(run.results)['gap']}" / f"seed{run.seed}"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(run.results))
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "scripts" / "paradigms.py"), "--out", str(out)]
    first = subprocess.run([*command, "--condition", f"arbitrated={tmp_path / 'runs'}", "--save-runs"],
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "| a gap before B protects A" in first.stdout and "+1.90" in first.stdout
    assert (out / "aba_gap.png").stat().st_size > 0
    saved = sorted(p.relative_to(out) for p in (out / "seeds").rglob("seed*.json"))
    assert len(saved) == 6 and saved[0].parts[:3] == ("seeds", "arbitrated", "gap0")
    table = pd.read_csv(out / "aba_runs.csv")
    again = subprocess.run([*command, "--condition", f"arbitrated={out / 'seeds' / 'arbitrated'}"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_csv(out / "aba_runs.csv"), table)  # the copies give the same rows


def test_a_bad_condition_argument_is_refused_by_name(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "paradigms.py"), "--out", str(tmp_path),
                             "--condition", "no-equals-sign"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "--condition 'no-equals-sign' is not allowed" in result.stderr
