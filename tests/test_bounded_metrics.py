"""Unit tests of the bounded metrics of ``consolidation.metrics`` (issue 12, item 4): bounded
score, retention as a difference and as a ratio with a minimum denominator, how well a task was
learned, and the bounded, budget-independent forward transfer. Hand-built matrices and curves,
expected values worked by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from consolidation import metrics as m

# Columns: A, B. Rows: 0 wake A, 1 sleep, 2 wake B, 3 sleep. A is kept at 0.5 of 0.9 after B.
R = np.array(
    [
        [0.90, -3.30],
        [0.80, -2.00],
        [0.30, 0.95],
        [0.50, 1.48],
    ]
)
# A trained to only 0.20, then 0.84 at the end: the ratio 4.2 that the issue calls an explosion
WEAK = np.array([[0.20, 0.00], [0.84, 0.90]])

pytestmark = pytest.mark.filterwarnings("error")  # a NaN must come without a RuntimeWarning


# -- bounded score ---------------------------------------------------------------------------


def test_bounded_score_scalar_inside_is_unchanged_float():
    out = m.bounded_score(0.3)
    assert isinstance(out, float) and out == 0.3


@pytest.mark.parametrize(("raw", "expected"), [(-3.3, -1.0), (1.48, 1.0), (-1.0, -1.0), (1.0, 1.0)])
def test_bounded_score_clips_at_both_ends(raw, expected):
    assert m.bounded_score(raw) == expected


def test_bounded_score_array_keeps_shape_and_input():
    before = R.copy()
    out = m.bounded_score(R)
    # column B: [-3.3, -2.0, 0.95, 1.48] -> [-1, -1, 0.95, 1]; column A is inside [-1, 1]
    np.testing.assert_array_equal(out, [[0.9, -1.0], [0.8, -1.0], [0.3, 0.95], [0.5, 1.0]])
    np.testing.assert_array_equal(R, before)


def test_bounded_score_custom_bounds():
    # success-like scale [0, 1]: -0.2 -> 0, 0.4 kept, 1.3 -> 1
    np.testing.assert_array_equal(m.bounded_score([-0.2, 0.4, 1.3], low=0.0, high=1.0), [0.0, 0.4, 1.0])


def test_bounded_score_nan_passthrough():
    assert math.isnan(m.bounded_score(float("nan")))
    out = m.bounded_score([np.nan, -2.0, 2.0])
    assert math.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [-1.0, 1.0])


@pytest.mark.parametrize(("low", "high"), [(1.0, 1.0), (1.0, -1.0), (np.nan, 1.0), (-1.0, np.inf), ("a", 1.0)])
def test_bounded_score_rejects_bad_bounds(low, high):
    with pytest.raises(ValueError, match="low and high must be finite"):
        m.bounded_score(0.5, low=low, high=high)


@pytest.mark.parametrize("bad", [np.inf, [0.2, -np.inf]])
def test_bounded_score_rejects_infinite_scores(bad):
    with pytest.raises(ValueError, match="score must be finite or NaN"):
        m.bounded_score(bad)


def test_bounded_score_rejects_non_numbers():
    with pytest.raises(ValueError, match="score must be a number"):
        m.bounded_score("high")


# -- retention as a difference ---------------------------------------------------------------


def test_retention_drop_default_final_row_is_last():
    # A: R[0, 0] - R[3, 0] = 0.9 - 0.5 = 0.4
    assert m.retention_drop(R, 0, 0) == pytest.approx(0.4)


def test_retention_drop_at_a_chosen_row():
    # A right after B's wake: R[0, 0] - R[2, 0] = 0.9 - 0.3 = 0.6; at its own row: 0
    assert m.retention_drop(R, 0, 0, final_row=2) == pytest.approx(0.6)
    assert m.retention_drop(R, 0, 0, final_row=0) == 0.0


def test_retention_drop_is_forgetting_per_task():
    # one implementation: the drop to the last row is Continual World's forgetting of that task
    rows = [0, 2]
    f = m.forgetting_per_task(R, rows)
    for j, row in enumerate(rows):
        assert m.retention_drop(R, j, row) == f[j]


def test_retention_drop_defined_where_the_ratio_is_not():
    # from below the baseline: -0.4 -> -0.2 is an improvement of 0.2 (drop -0.2); ratio n/a
    scores = np.array([[-0.4], [-0.2]])
    assert m.retention_drop(scores, 0, 0) == pytest.approx(-0.2)
    assert math.isnan(m.retention_ratio(scores, 0, 0))


def test_retention_drop_nan_passthrough():
    missing = R.copy()
    missing[3, 0] = np.nan
    assert math.isnan(m.retention_drop(missing, 0, 0))


def test_retention_drop_rejects_final_row_before_trained_row():
    with pytest.raises(ValueError, match="final_row must be >= trained_row.*final_row=1, trained_row=2"):
        m.retention_drop(R, 0, 2, final_row=1)


# -- retention as a ratio --------------------------------------------------------------------


def test_retention_ratio():
    # A after B: R[3, 0] / R[0, 0] = 0.5 / 0.9; at row 2: 0.3 / 0.9
    assert m.retention_ratio(R, 0, 0) == pytest.approx(0.5 / 0.9)
    assert m.retention_ratio(R, 0, 0, final_row=2) == pytest.approx(0.3 / 0.9)


def test_retention_ratio_na_below_min_denominator():
    # 0.84 / 0.20 = 4.2 would read as "kept four times what was learned": n/a (0.20 < 0.5)
    assert math.isnan(m.retention_ratio(WEAK, 0, 0))
    # the same ratio is defined when the caller lowers the bar below 0.20
    assert m.retention_ratio(WEAK, 0, 0, min_denominator=0.1) == pytest.approx(4.2)


@pytest.mark.parametrize(("denominator", "defined"), [(0.5, True), (0.49, False), (0.0, False), (-0.4, False)])
def test_retention_ratio_boundary_is_inclusive(denominator, defined):
    # 0.25 / 0.5 = 0.5 at the bar; just below it, at the baseline and below it: n/a
    scores = np.array([[denominator], [0.25]])
    out = m.retention_ratio(scores, 0, 0)
    if defined:
        assert out == pytest.approx(0.5)
    else:
        assert math.isnan(out)


@pytest.mark.parametrize("row", [0, 3])
def test_retention_ratio_nan_passthrough(row):
    missing = R.copy()
    missing[row, 0] = np.nan
    assert math.isnan(m.retention_ratio(missing, 0, 0))


@pytest.mark.parametrize("bad", [0.0, -0.5, np.nan, np.inf, "half"])
def test_retention_ratio_rejects_bad_min_denominator(bad):
    with pytest.raises(ValueError, match="min_denominator must be a finite number > 0"):
        m.retention_ratio(R, 0, 0, min_denominator=bad)


def test_legacy_retention_is_the_ratio_with_any_positive_denominator():
    # the unguarded ratio behind results.json: defined for 0.20 (4.2), NaN at or below 0
    assert m.retention(WEAK, 0, 0) == pytest.approx(4.2)
    assert m.retention(R, 0, 0) == m.retention_ratio(R, 0, 0)
    assert math.isnan(m.retention(np.array([[0.0], [0.3]]), 0, 0))


# -- how well a task was learned -------------------------------------------------------------


def test_learned_score_is_bounded_score_at_trained_row():
    assert m.learned_score(R, 1, 2) == pytest.approx(0.95)  # B after its wake
    assert m.learned_score(R, 1, 3) == 1.0  # 1.48 (a reference the policy beats) clipped
    assert m.learned_score(R, 1, 0) == -1.0  # -3.3 clipped
    assert m.learned_score(R, 1, 3, low=0.0, high=2.0) == pytest.approx(1.48)


@pytest.mark.parametrize(("task", "row", "expected"), [(1, 2, True), (0, 0, True), (0, 1, False), (0, 3, False)])
def test_learned_threshold(task, row, expected):
    # B 0.95 and A 0.90 (equal to the bar) count as learned; A 0.80 and 0.50 do not
    assert m.learned(R, task, row) is expected


def test_learned_custom_threshold():
    assert m.learned(R, 0, 1, threshold=0.8) is True
    assert m.learned(R, 1, 2, threshold=0.96) is False


def test_learned_nan():
    missing = R.copy()
    missing[2, 1] = np.nan
    assert math.isnan(m.learned_score(missing, 1, 2))
    with pytest.raises(ValueError, match=r"R\[2, 1\] is NaN"):
        m.learned(missing, 1, 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, "high"])
def test_learned_rejects_bad_threshold(bad):
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        m.learned(R, 0, 0, threshold=bad)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: m.retention_drop(R, 2, 0), "task"),
        (lambda: m.retention_drop(R, 0, 4), "trained_row"),
        (lambda: m.retention_drop(R, 0, 0, final_row=-1), "final_row"),  # -1 rejected: None is the last row
        (lambda: m.retention_ratio(R, 0, -1), "trained_row"),
        (lambda: m.retention_ratio(R, 0, 0, final_row=4), "final_row"),
        (lambda: m.learned(R, 0, 4), "trained_row"),
        (lambda: m.learned_score(R, -1, 0), "task"),
    ],
)
def test_row_and_task_arguments_validated(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must be an integer in \[0, \d\]"):
        call()


# -- bounded forward transfer ----------------------------------------------------------------

# Reference (the task from scratch): 0 -> 0.5 -> 1.0 at steps 0, 100, 200; reaches 0.9 at step
# 200, so the window is [0, 200] and its mean is (25 + 75) / 200 = 0.5 (trapezoids).
REF_STEPS, REF_SCORES = [0, 100, 200], [0.0, 0.5, 1.0]


def test_bounded_forward_transfer_equal_curves_is_zero():
    assert m.bounded_forward_transfer(REF_STEPS, REF_SCORES, REF_STEPS, REF_SCORES) == 0.0


def test_bounded_forward_transfer_clips_before_the_area():
    # B: -3 -> -1 -> 1 clipped to -1, -1, 1: mean over [0, 200] = (-100 + 0) / 200 = -0.5
    # FT = (-0.5 - 0.5) / (1 - (-1)) = -0.5; Continual World's FT on the raw points:
    # (mean(-3, -1, 1) - 0.5) / (1 - 0.5) = (-1 - 0.5) / 0.5 = -3
    assert m.bounded_forward_transfer(REF_STEPS, [-3.0, -1.0, 1.0], REF_STEPS, REF_SCORES) == pytest.approx(-0.5)
    assert m.forward_transfer([-3.0, -1.0, 1.0], REF_SCORES) == pytest.approx(-3.0)


def test_bounded_forward_transfer_reaches_its_bounds():
    # reference at 1 from its first point (step 10, held back to 0): window [0, 10], AUC_ref = 1
    # curve far below the baseline (-7, clipped to -1): FT = (-1 - 1) / 2 = -1 exactly
    assert m.bounded_forward_transfer([0, 10], [-7.0, -7.0], [10, 20], [1.0, 1.0]) == -1.0
    # and the mirror: curve at 5 (clipped to 1) against a reference at -1 until it jumps: +1 in
    # the limit; with the jump over [0, 10]: AUC_ref = (-1 * 9 + (-1 + 1) / 2 * 1) / 10 = -0.9
    # FT = (1 - (-0.9)) / 2 = 0.95
    ft = m.bounded_forward_transfer([0, 10], [5.0, 5.0], [0, 9, 10], [-1.0, -1.0, 1.0])
    assert ft == pytest.approx(0.95)


def test_bounded_forward_transfer_slower_learning_is_negative():
    # B learns along the same curve at a quarter of the speed: 0 -> 0.5 -> 1 at 0, 400, 800.
    # Over [0, 200] B rises from 0 to 0.25: mean 0.125; FT = (0.125 - 0.5) / 2 = -0.1875
    ft = m.bounded_forward_transfer([0, 400, 800], REF_SCORES, REF_STEPS, REF_SCORES)
    assert ft == pytest.approx(-0.1875)


def test_bounded_forward_transfer_holds_first_point_back_to_step_zero():
    # reference [0.5, 1.0] at steps 100, 200: 0.5 on [0, 100], then 0.5 -> 1: (50 + 75) / 200 =
    # 0.625; curve at 0.5 throughout: 0.5; FT = (0.5 - 0.625) / 2 = -0.0625
    ft = m.bounded_forward_transfer([100, 200], [0.5, 0.5], [100, 200], [0.5, 1.0])
    assert ft == pytest.approx(-0.0625)


@pytest.mark.parametrize("factor", [2, 4, 10.5])
def test_bounded_forward_transfer_unchanged_when_curves_are_stretched(factor):
    # the same curves over a budget `factor` times longer (every step multiplied): T_ref and
    # the window scale with them, so FT stays -0.1875 (test above)
    steps, ref_steps = np.array([0, 400, 800]) * factor, np.array(REF_STEPS) * factor
    assert m.bounded_forward_transfer(steps, REF_SCORES, ref_steps, REF_SCORES) == pytest.approx(-0.1875)


def test_bounded_forward_transfer_unchanged_when_the_budget_is_extended():
    # both wakes run on to step 3200 on their plateau: the window is still [0, 200]
    steps, scores = [0, 400, 800, 1600, 3200], [0.0, 0.5, 1.0, 1.0, 1.0]
    ref_steps, ref_scores = [0, 100, 200, 1600, 3200], [0.0, 0.5, 1.0, 1.0, 1.0]
    assert m.bounded_forward_transfer(steps, scores, ref_steps, ref_scores) == pytest.approx(-0.1875)
    # a B wake longer than the reference's changes nothing either
    assert m.bounded_forward_transfer(steps, scores, REF_STEPS, REF_SCORES) == pytest.approx(-0.1875)


def test_bounded_forward_transfer_budget_independent_where_continual_world_is_not():
    # B plateaus at 0.8 (never fully learned), the reference at 1. Over [0, 200]: B's mean
    # (20 + 60) / 200 = 0.4, the reference's 0.5: FT = (0.4 - 0.5) / 2 = -0.05 at any budget.
    def curves(budget):
        steps = [0, 100, 200] + ([budget] if budget > 200 else [])
        return steps, [0.0, 0.4, 0.8, 0.8][: len(steps)], steps, [0.0, 0.5, 1.0, 1.0][: len(steps)]

    for budget in (200, 3200):
        assert m.bounded_forward_transfer(*curves(budget)) == pytest.approx(-0.05)
    # Continual World's FT over the whole phase (uniform grid, step 100) moves with the budget:
    # budget 200: (0.4 - 0.5) / (1 - 0.5) = -0.2; budget 3200: (25.2 / 33 - 31.5 / 33) /
    # (1 - 31.5 / 33) = -6.3 / 1.5 = -4.2, and it diverges as the budget grows
    cw = {}
    for budget in (200, 3200):
        steps, scores, ref_steps, ref_scores = curves(budget)
        grid = np.linspace(0, budget, budget // 100 + 1)
        cw[budget] = m.forward_transfer(np.interp(grid, steps, scores), np.interp(grid, ref_steps, ref_scores))
    assert cw[200] == pytest.approx(-0.2)
    assert cw[3200] == pytest.approx(-4.2)


def test_bounded_forward_transfer_na_cases():
    # the reference never reaches 0.9: no learning time to compare against
    assert math.isnan(m.bounded_forward_transfer(REF_STEPS, REF_SCORES, REF_STEPS, [0.0, 0.5, 0.8]))
    # the reference is at 0.9 at step 0: nothing to learn
    assert math.isnan(m.bounded_forward_transfer(REF_STEPS, REF_SCORES, REF_STEPS, [0.95, 1.0, 1.0]))
    # the curve ends (step 150) before the window does (200): its phase is too short to tell
    assert math.isnan(m.bounded_forward_transfer([0, 150], [0.0, 1.0], REF_STEPS, REF_SCORES))


def test_bounded_forward_transfer_threshold_sets_the_window():
    # threshold 0.5: window [0, 100]; reference mean (0 + 0.5) / 2 = 0.25; slow curve reaches
    # 0.125 at step 100: mean 0.0625; FT = (0.0625 - 0.25) / 2 = -0.09375
    ft = m.bounded_forward_transfer([0, 400, 800], REF_SCORES, REF_STEPS, REF_SCORES, threshold=0.5)
    assert ft == pytest.approx(-0.09375)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([0, 100], [0.0, 0.5, 1.0], REF_STEPS, REF_SCORES), "steps and scores must have the same length"),
        ((REF_STEPS, REF_SCORES, [0, 100], REF_SCORES), "reference_steps and reference_scores must have"),
        (([0, 200, 100], REF_SCORES, REF_STEPS, REF_SCORES), "steps must be >= 0 .* strictly increasing"),
        ((REF_STEPS, REF_SCORES, [-100, 0, 100], REF_SCORES), "reference_steps must be >= 0"),
        ((REF_STEPS, [0.0, np.nan, 1.0], REF_STEPS, REF_SCORES), "scores must be a non-empty 1-D array of finite"),
        ((REF_STEPS, REF_SCORES, REF_STEPS, []), "reference_scores must be a non-empty"),
    ],
)
def test_bounded_forward_transfer_rejects_bad_curves(args, match):
    with pytest.raises(ValueError, match=match):
        m.bounded_forward_transfer(*args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 1.1}, r"threshold must lie in \(low, high\]"),
        ({"threshold": -1.0}, r"threshold must lie in \(low, high\]"),
        ({"threshold": np.nan}, r"threshold must lie in \(low, high\]"),
        ({"low": 1.0, "high": 0.0}, "low and high must be finite with low < high"),
    ],
)
def test_bounded_forward_transfer_rejects_bad_scale(kwargs, match):
    with pytest.raises(ValueError, match=match):
        m.bounded_forward_transfer(REF_STEPS, REF_SCORES, REF_STEPS, REF_SCORES, **kwargs)


def test_results_json_carries_the_bounded_metrics_per_task():
    """consolidation.results.summarise writes learned, retention_drop and retention_ratio per task."""
    from consolidation.results import summarise

    cortex = np.array([[1.2, -3.0], [0.4, 0.95]])          # A trained at row 0, B at row 1
    student = np.array([[0.3, -0.5], [0.2, 0.8]])          # A barely learned: no ratio
    out = summarise({"cortical": cortex, "subcortical": student},
                    {"cortical": [0, 1], "subcortical": [0, 1]}, ["A", "B"], 10, 100, last_learned="B")
    c, s = out["cortical"], out["subcortical"]
    assert c["learned"] == {"A": 1.0, "B": 0.95}
    assert c["retention_drop"]["A"] == pytest.approx(0.6)            # 1.0 (clipped 1.2) - 0.4
    assert c["retention_ratio"]["A"] == pytest.approx(0.4 / 1.2)     # raw scores, denominator >= 0.5
    assert c["bounded_average_performance"] == pytest.approx((0.4 + 0.95) / 2)
    assert math.isnan(s["retention_ratio"]["A"]) and s["retention_drop"]["A"] == pytest.approx(0.1)
