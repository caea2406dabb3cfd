"""Neuromodulator gating maths: bounded mean-normalised gains, controls, priorities, errors."""

from __future__ import annotations

import numpy as np
import pytest

from consolidation.neuromodulation import GATING_MODES, Neuromodulator

RNG = np.random.default_rng(0)
INPUTS = {
    "random": (RNG.normal(size=200), RNG.exponential(size=200)),
    "zeros": (np.zeros(50), np.zeros(50)),
    "huge": (RNG.normal(size=50) * 1e300, RNG.exponential(size=50) * 1e300),
    "one_outlier": (np.r_[np.full(99, 0.01), 1e6], np.r_[np.ones(99), 1e4]),
    "single": (np.array([3.0]), np.array([0.5])),
}


@pytest.mark.parametrize("mode", GATING_MODES)
@pytest.mark.parametrize("case", sorted(INPUTS))
def test_gains_are_bounded_and_finite(mode, case):
    td_error, novelty = INPUTS[case]
    modulator = Neuromodulator(mode=mode, gain_min=0.25, gain_max=4.0)
    gains = modulator.gains(td_error, novelty)
    assert gains.shape == td_error.shape
    assert np.isfinite(gains).all()
    assert gains.min() >= 0.25 and gains.max() <= 4.0


def test_signals_are_mean_normalised():
    modulator = Neuromodulator()
    td_error, novelty = INPUTS["random"]
    np.testing.assert_allclose(modulator.dopamine(td_error).mean(), 1.0)
    np.testing.assert_allclose(modulator.acetylcholine(novelty).mean(), 1.0)
    np.testing.assert_array_equal(modulator.dopamine(np.zeros(5)), np.ones(5))
    np.testing.assert_array_equal(modulator.acetylcholine(np.zeros(5)), np.ones(5))
    # dopamine ignores the sign of the prediction error
    np.testing.assert_allclose(modulator.dopamine([-2.0, 2.0, 0.0]), [1.5, 1.5, 0.0])


def test_on_gains_follow_the_signals_and_average_one_without_clipping():
    modulator = Neuromodulator(gain_min=0.01, gain_max=100.0)
    td_error, novelty = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0, 1.0])
    gains = modulator.gains(td_error, novelty)
    np.testing.assert_allclose(gains, td_error / td_error.mean())
    no_dopamine = Neuromodulator(dopamine_weight=0.0, gain_min=0.01, gain_max=100.0)
    np.testing.assert_allclose(no_dopamine.gains(td_error, [1.0, 3.0, 1.0, 3.0]),
                               [0.5, 1.5, 0.5, 1.5])


def test_off_gives_ones_and_uniform_priorities():
    modulator = Neuromodulator(mode="off")
    td_error, novelty = INPUTS["random"]
    gains = modulator.gains(td_error, novelty)
    np.testing.assert_array_equal(gains, np.ones(200))
    priorities = modulator.priorities(np.linspace(0.5, 3, 200))
    np.testing.assert_allclose(priorities, np.full(200, 1 / 200))


def test_shuffled_preserves_the_gains_but_not_their_order():
    td_error, novelty = INPUTS["random"]
    on = Neuromodulator(mode="on").gains(td_error, novelty)
    shuffled_modulator = Neuromodulator(mode="shuffled_across_tasks", seed=1)
    shuffled = shuffled_modulator.gains(td_error, novelty)
    np.testing.assert_array_equal(np.sort(shuffled), np.sort(on))
    assert not np.array_equal(shuffled, on)
    assert np.corrcoef(shuffled, on)[0, 1] < 0.5  # no relation left to the samples
    again = shuffled_modulator.gains(td_error, novelty)  # the modulator's own stream moves on
    assert not np.array_equal(again, shuffled)
    # the earlier name, read from saved configs, is the same control
    np.testing.assert_array_equal(Neuromodulator(mode="shuffled", seed=1).gains(td_error, novelty),
                                  shuffled)


@pytest.mark.parametrize("mode", ["on", "shuffled_across_tasks", "inverted"])
def test_priorities_are_a_distribution_increasing_with_gain(mode):
    modulator = Neuromodulator(mode=mode, priority_exponent=0.6)
    gains = np.array([0.25, 1.0, 1.0, 2.0, 4.0])
    priorities = modulator.priorities(gains)
    assert np.all(priorities > 0)
    np.testing.assert_allclose(priorities.sum(), 1.0)
    assert np.all(np.diff(priorities) >= 0) and priorities[-1] > priorities[0]
    np.testing.assert_allclose(priorities[-1] / priorities[0], 16**0.6)
    uniform = Neuromodulator(mode=mode, priority_exponent=0.0).priorities(gains)
    np.testing.assert_allclose(uniform, np.full(5, 0.2))


def test_summary_reports_gains_and_raw_signal_levels():
    modulator = Neuromodulator()
    td_error, novelty = np.array([-1.0, 3.0]), np.array([0.5, 1.5])
    gains = modulator.gains(td_error, novelty)
    summary = modulator.summary(gains, td_error, novelty)
    scalars = {"gain_mean", "gain_std", "gain_min", "gain_max", "dopamine_mean", "acetylcholine_mean"}
    assert scalars <= set(summary)
    assert summary["dopamine_mean"] == 2.0 and summary["acetylcholine_mean"] == 1.0
    assert summary["gain_min"] <= summary["gain_mean"] <= summary["gain_max"]
    assert all(isinstance(summary[key], float) for key in scalars)
    assert summary["mode"] == "on" and summary["mechanisms"] == ["prioritised_replay"]


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "random"}, "mode"),
    ({"gain_min": 0.0}, "gain_min"),
    ({"gain_min": 1.5, "gain_max": 2.0}, "gain_min"),
    ({"gain_max": 0.9}, "gain_max"),
    ({"gain_max": np.inf}, "gain_max"),
    ({"dopamine_weight": -1.0}, "dopamine_weight"),
    ({"acetylcholine_weight": np.nan}, "acetylcholine_weight"),
    ({"priority_exponent": -0.1}, "priority_exponent"),
    ({"normalise": "global"}, "normalise"),
    ({"importance_sampling": 1.5}, "importance_sampling"),
    ({"prioritised_replay": False}, "no mechanism"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Neuromodulator(**kwargs)


def test_bad_mode_lists_the_allowed_values():
    with pytest.raises(ValueError, match="'on', 'off', 'shuffled_within_task', 'shuffled_across_tasks', "
                                         "'inverted', 'matched'"):
        Neuromodulator(mode="constant")


def test_bad_inputs():
    modulator = Neuromodulator()
    with pytest.raises(ValueError, match="td_error"):
        modulator.gains([0.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError, match="novelty"):
        modulator.gains([0.0, 1.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="shape"):
        modulator.gains([0.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="gains"):
        modulator.priorities([1.0, 0.0])
