"""Unit tests of ``consolidation.metrics`` on hand-built matrices, expected values worked by hand.

The main fixture is a two-task protocol with a third, never-trained task:
rows = after wake A, after sleep, after wake B, after sleep; columns = tasks A, B, C.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from consolidation import metrics as m

# Columns: A, B, C (C never trained). Rows: 0 wake A, 1 sleep, 2 wake B, 3 sleep.
R = np.array(
    [
        [0.90, 0.10, 0.20],
        [0.80, 0.20, 0.20],
        [0.30, 0.95, 0.40],
        [0.50, 0.90, 0.30],
    ]
)
CORTEX_ROWS = [0, 2, None]  # training ends after each wake phase
STUDENT_ROWS = [1, 3, None]  # training ends after the sleep that follows it: B ends at the last row

pytestmark = pytest.mark.filterwarnings("error")  # a NaN must come without a RuntimeWarning


# -- average performance ---------------------------------------------------------------------


def test_average_performance_includes_untrained_task():
    # (0.5 + 0.9 + 0.3) / 3 = 1.7 / 3; dropping untrained C would give (0.5 + 0.9) / 2 = 0.7
    assert m.average_performance(R) == pytest.approx(1.7 / 3)


def test_average_performance_with_negative_and_above_reference_scores():
    neg = np.array([[-0.2, 0.5], [-0.6, 1.3]])
    # (-0.6 + 1.3) / 2 = 0.35
    assert m.average_performance(neg) == pytest.approx(0.35)


def test_average_performance_propagates_missing_evaluation():
    missing = R.copy()
    missing[-1, 2] = np.nan
    assert math.isnan(m.average_performance(missing))


# -- forgetting and backward transfer --------------------------------------------------------


def test_forgetting_per_task_cortex():
    # A: R[0, 0] - R[3, 0] = 0.9 - 0.5 = 0.4; B: R[2, 1] - R[3, 1] = 0.95 - 0.9 = 0.05; C: NaN
    f = m.forgetting_per_task(R, CORTEX_ROWS)
    assert f[:2] == pytest.approx([0.4, 0.05])
    assert math.isnan(f[2])


def test_forgetting_of_task_trained_at_last_row_is_zero():
    # student B: R[3, 1] - R[3, 1] = 0; student A: R[1, 0] - R[3, 0] = 0.8 - 0.5 = 0.3
    f = m.forgetting_per_task(R, STUDENT_ROWS)
    assert f[:2] == pytest.approx([0.3, 0.0])
    assert math.isnan(f[2])


def test_average_forgetting_excludes_untrained_task():
    # mean over A and B only: (0.4 + 0.05) / 2 = 0.225 (np.mean with C's NaN would give NaN)
    assert m.average_forgetting(R, CORTEX_ROWS) == pytest.approx(0.225)


def test_average_forgetting_excludes_task_trained_at_last_row():
    # only student A qualifies: 0.3; averaging in B's 0 would dilute it to (0.3 + 0) / 2 = 0.15
    assert m.average_forgetting(R, STUDENT_ROWS) == pytest.approx(0.3)


def test_backward_transfer_is_gem_sign():
    # cortex: ((0.5 - 0.9) + (0.9 - 0.95)) / 2 = (-0.4 - 0.05) / 2 = -0.225
    assert m.backward_transfer(R, CORTEX_ROWS) == pytest.approx(-0.225)
    # student: only A, 0.5 - 0.8 = -0.3
    assert m.backward_transfer(R, STUDENT_ROWS) == pytest.approx(-0.3)


def test_backward_transfer_positive_when_later_phase_helps():
    helped = np.array([[0.4, 0.0], [0.7, 0.9]])
    # A trained at row 0, improved by B's training: 0.7 - 0.4 = 0.3
    assert m.backward_transfer(helped, [0, 1]) == pytest.approx(0.3)
    assert m.average_forgetting(helped, [0, 1]) == pytest.approx(-0.3)


def test_forgetting_with_negative_scores():
    neg = np.array([[-0.2, 0.5], [-0.6, 1.3]])
    # task 0: -0.2 - (-0.6) = 0.4; task 1 ends at the last row: 1.3 - 1.3 = 0
    assert m.forgetting_per_task(neg, [0, 1]) == pytest.approx([0.4, 0.0])
    assert m.average_forgetting(neg, [0, 1]) == pytest.approx(0.4)


@pytest.mark.parametrize("fn", [m.average_forgetting, m.backward_transfer])
def test_single_task_protocol_has_no_forgetting_average(fn):
    assert math.isnan(fn(np.array([[0.7]]), [0]))
    assert math.isnan(fn(np.array([[0.2], [0.7]]), [1]))  # trained until the last row


@pytest.mark.parametrize("fn", [m.average_forgetting, m.backward_transfer])
def test_no_trained_task_gives_nan(fn):
    assert math.isnan(fn(R, [None, None, None]))


def test_metrics_do_not_modify_R():
    before = R.copy()
    m.forgetting_per_task(R, CORTEX_ROWS)
    m.offline_gain(R, 0, 1)
    np.testing.assert_array_equal(R, before)


# -- forward transfer ------------------------------------------------------------------------


def test_forward_transfer_equal_curves_is_zero():
    assert m.forward_transfer([0.1, 0.4, 0.8], [0.1, 0.4, 0.8]) == pytest.approx(0.0)


def test_forward_transfer_better_curve():
    # AUC = (0.2 + 0.6 + 1.0) / 3 = 0.6; AUC_ref = (0.0 + 0.3 + 0.6) / 3 = 0.3
    # FT = (0.6 - 0.3) / (1 - 0.3) = 0.3 / 0.7
    assert m.forward_transfer([0.2, 0.6, 1.0], [0.0, 0.3, 0.6]) == pytest.approx(0.3 / 0.7)


def test_forward_transfer_worse_curve_with_negative_scores():
    # AUC = (-0.4 + 0.0) / 2 = -0.2; AUC_ref = (0.0 + 0.4) / 2 = 0.2; FT = -0.4 / 0.8 = -0.5
    assert m.forward_transfer([-0.4, 0.0], [0.0, 0.4]) == pytest.approx(-0.5)


def test_forward_transfer_rejects_different_lengths():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        m.forward_transfer([0.1, 0.2, 0.3], [0.1, 0.2])


@pytest.mark.parametrize("reference", [[1.0, 1.0], [0.9, 1.3]])
def test_forward_transfer_undefined_when_reference_auc_reaches_one(reference):
    with pytest.raises(ValueError, match="undefined"):
        m.forward_transfer([0.5, 0.5], reference)


# -- zero-shot, retention, fidelity, offline gain, parameter ratio ---------------------------


def test_score_before_training():
    # cortex B starts training in phase 2, so its zero-shot score is R[1, 1] = 0.2
    assert m.score_before_training(R, 1, 2) == pytest.approx(0.2)
    assert math.isnan(m.score_before_training(R, 0, 0))  # nothing evaluated before row 0


def test_retention():
    # A after B: R[3, 0] / R[0, 0] = 0.5 / 0.9
    assert m.retention(R, 0, 0) == pytest.approx(0.5 / 0.9)


@pytest.mark.parametrize("reference", [0.0, -0.4])
def test_retention_nan_for_non_positive_reference(reference):
    # -0.2 / -0.4 would read as a 50% retention of a skill that was never acquired
    scores = np.array([[reference], [-0.2]])
    assert math.isnan(m.retention(scores, 0, 0))


def test_distillation_fidelity_scalar_and_array():
    # 0.6 / 0.8 = 0.75, returned as a plain float
    fid = m.distillation_fidelity(0.6, 0.8)
    assert isinstance(fid, float) and fid == pytest.approx(0.75)
    # [0.5 / 1.0, teacher 0 -> NaN, teacher negative -> NaN]
    arr = m.distillation_fidelity([0.5, 0.4, 0.3], [1.0, 0.0, -0.5])
    assert arr[0] == pytest.approx(0.5)
    assert np.isnan(arr[1:]).all()


def test_offline_gain_all_tasks_and_one_task():
    # sleep after wake A: R[1] - R[0] = [0.8 - 0.9, 0.2 - 0.1, 0.2 - 0.2] = [-0.1, 0.1, 0.0]
    assert m.offline_gain(R, 0, 1) == pytest.approx([-0.1, 0.1, 0.0])
    # sleep after wake B on task A: R[3, 0] - R[2, 0] = 0.5 - 0.3 = 0.2
    assert m.offline_gain(R, 2, 3, task=0) == pytest.approx(0.2)


@pytest.mark.parametrize(("before", "after"), [(1, 0), (1, 1)])
def test_offline_gain_rejects_rows_out_of_order(before, after):
    with pytest.raises(ValueError, match="before_row must be < after_row"):
        m.offline_gain(R, before, after)


def test_parameter_ratio():
    assert m.parameter_ratio(1_000, 4_000) == pytest.approx(0.25)  # 1000 / 4000
    with pytest.raises(ValueError, match="teacher_params"):
        m.parameter_ratio(1_000, 0)
    with pytest.raises(ValueError, match="student_params"):
        m.parameter_ratio(-1, 10)


# -- steps to threshold and savings ----------------------------------------------------------


def test_steps_to_threshold_first_crossing():
    steps, scores = [0, 100, 200, 300], [0.1, 0.5, 0.85, 0.9]
    assert m.steps_to_threshold(steps, scores, 0.8) == 200.0  # 0.85 at step 200 is first >= 0.8
    assert m.steps_to_threshold(steps, scores, 0.5) == 100.0  # equality counts as reached


def test_steps_to_threshold_never_reached_is_nan():
    assert math.isnan(m.steps_to_threshold([0, 100, 200], [0.1, 0.5, 0.7], 0.8))


def test_steps_to_threshold_validation():
    with pytest.raises(ValueError, match="same length"):
        m.steps_to_threshold([0, 100], [0.1, 0.2, 0.3], 0.5)
    for steps in ([0, 200, 100], [0, 100, 100]):
        with pytest.raises(ValueError, match="steps must be strictly increasing"):
            m.steps_to_threshold(steps, [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(ValueError, match="scores"):
        m.steps_to_threshold([0, 100], [0.1, np.nan], 0.5)


@pytest.mark.parametrize(
    ("first", "relearn", "expected"),
    [
        (400, 100, 0.75),  # (400 - 100) / 400
        (400, 0, 1.0),  # instant relearning
        (400, 400, 0.0),  # no savings
        (400, 600, -0.5),  # (400 - 600) / 400: slower the second time
    ],
)
def test_savings(first, relearn, expected):
    assert m.savings(first, relearn) == pytest.approx(expected)


def test_savings_nan_when_threshold_never_reached():
    never = m.steps_to_threshold([0, 100], [0.1, 0.2], 0.9)
    assert math.isnan(m.savings(never, 100))
    assert math.isnan(m.savings(400, never))
    with pytest.raises(ValueError, match="steps_first"):
        m.savings(0, 100)


# -- input validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [np.array([0.1, 0.2]), np.zeros((2, 2, 2)), np.zeros((0, 3)), [[0.1, np.inf]], "R"]
)
def test_R_validation(bad):
    with pytest.raises(ValueError, match="R must"):
        m.average_performance(bad)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([0, 2], r"trained_rows must have one entry per task \(n_tasks=3\), got length 2"),
        ([0, 2, None, 1], r"trained_rows must have one entry per task \(n_tasks=3\), got length 4"),
        ([0, 4, None], r"trained_rows\[1\] must be an integer in \[0, 3\], got 4"),
        ([0, -1, None], r"trained_rows\[1\] must be an integer in \[0, 3\], got -1"),
        ([0.0, 2, None], r"trained_rows\[0\] must be an integer"),
        ([True, 2, None], r"trained_rows\[0\] must be an integer"),
    ],
)
def test_trained_rows_validation(rows, match):
    with pytest.raises(ValueError, match=match):
        m.average_forgetting(R, rows)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: m.score_before_training(R, 3, 1), "task"),
        (lambda: m.score_before_training(R, 0, 4), "start_row"),
        (lambda: m.retention(R, 0, -1), "trained_row"),
        (lambda: m.offline_gain(R, -1, 3), "before_row"),
        (lambda: m.offline_gain(R, 0, 9), "after_row"),
        (lambda: m.offline_gain(R, 0, 1, task=5), "task"),
    ],
)
def test_row_and_task_arguments_validated(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must be an integer in \[0, \d\]"):
        call()
