"""The novelty models: judged against the past, blind to the context cue, robust to dimensions
that never varied, and (the forward model) sensitive to a change of dynamics that a state density
cannot see."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from consolidation.novelty import ForwardModelNovelty, RunningDensityNovelty

STATE, ACTION, CUE = 4, 2, 2


def _batch(rng, n: int, cue: int, rotation: float = 0.0):
    """States with a one-hot cue appended, actions, and next states: s' = s + R(rotation) B a."""
    state = rng.normal(size=(n, STATE))
    action = rng.uniform(-1, 1, size=(n, ACTION))
    c, s = np.cos(rotation), np.sin(rotation)
    push = action @ np.array([[c, -s], [s, c]]).T
    next_state = state + 0.5 * np.concatenate([push, 0.1 * push], axis=1) + 0.01 * rng.normal(size=(n, STATE))
    onehot = np.zeros((n, CUE))
    onehot[:, cue] = 1.0
    return np.hstack([state, onehot]), action, np.hstack([next_state, onehot])


def _train(model, rng, batches: int = 60, cue: int = 0, rotation: float = 0.0, n: int = 256):
    for _ in range(batches):
        model(*_batch(rng, n, cue, rotation))


def test_density_first_batch_is_one_and_outliers_are_novel():
    rng = np.random.default_rng(0)
    novelty = RunningDensityNovelty()
    np.testing.assert_array_equal(novelty(rng.normal(size=(64, 4))), 1.0)
    typical = novelty(rng.normal(size=(256, 4)))
    assert 0.5 < typical.mean() < 1.5  # mean squared z-score of typical states ~ 1
    outlier = novelty(np.full((1, 4), 6.0))
    assert outlier[0] > 10 * typical.mean()


def test_density_statistics_match_a_single_pass_and_round_trip():
    rng = np.random.default_rng(1)
    data = rng.normal(loc=3.0, scale=[1.0, 5.0], size=(300, 2))
    novelty = RunningDensityNovelty()
    for chunk in np.array_split(data, [7, 100, 101]):
        novelty(chunk)
    np.testing.assert_allclose(novelty.moments.mean, data.mean(axis=0))
    np.testing.assert_allclose(novelty.moments.var, data.var(axis=0))
    restored = RunningDensityNovelty()
    restored.load_state_dict(_saved_and_loaded(novelty.state_dict()))
    probe = rng.normal(size=(5, 2))
    np.testing.assert_array_equal(restored(probe), novelty(probe))


def _after_switch(model, seed: int = 2) -> tuple[float, float]:
    """Mean novelty of a batch before the cue switches, and of the three batches after it."""
    rng = np.random.default_rng(seed)
    _train(model, rng, cue=0)
    same = model(*_batch(rng, 256, cue=0)).mean()
    switched = np.mean([model(*_batch(rng, 256, cue=1)).mean() for _ in range(3)])
    return same, switched


@pytest.mark.parametrize("make", [RunningDensityNovelty, ForwardModelNovelty])
def test_the_cue_switching_alone_does_not_raise_novelty(make):
    same, switched = _after_switch(make(ignore_dims=[STATE, STATE + 1]))  # same states and dynamics
    assert switched < 1.5 * same



def test_the_cue_test_can_fail():
    # with the cue kept in, its dimensions vary (a little) from the second batch after the
    # switch, and the one-hot's z-scores then dominate the state density's novelty
    same, switched = _after_switch(RunningDensityNovelty())
    assert switched > 5 * same


@pytest.mark.parametrize("make", [RunningDensityNovelty, ForwardModelNovelty])
def test_a_dimension_that_never_varied_cannot_dominate(make):
    rng = np.random.default_rng(3)
    model = make()
    for _ in range(20):
        obs, action, next_obs = _batch(rng, 128, cue=0)
        model(obs, action, next_obs)  # the cue's dimensions are constant: never varied
    typical = model(*_batch(rng, 128, cue=0)).mean()
    flipped = model(*_batch(rng, 128, cue=1)).mean()  # constant dims change, not ignored by name
    assert np.isfinite(flipped) and flipped < 3 * typical


def test_the_forward_model_sees_a_change_of_dynamics_that_the_density_cannot():
    forward, density = ForwardModelNovelty(), RunningDensityNovelty()
    rng = np.random.default_rng(4)
    for _ in range(80):
        batch = _batch(rng, 256, cue=0)
        forward(*batch)
        density(*batch)
    same, rotated = _batch(rng, 512, cue=0), _batch(rng, 512, cue=0, rotation=np.pi / 2)
    assert forward(*rotated).mean() > 5 * forward(*same).mean()
    assert density(*rotated).mean() < 1.5 * density(*same).mean()


def test_rows_without_a_successor_get_the_median_error():
    model = ForwardModelNovelty()
    rng = np.random.default_rng(5)
    _train(model, rng, batches=5)
    obs, action, next_obs = _batch(rng, 9, cue=0)
    valid = np.ones(9, bool)
    valid[4] = False
    next_obs[4] = 1e6  # a reset observation: no relation to the step
    errors = model(obs, action, next_obs, valid)
    assert errors[4] == pytest.approx(np.median(errors[valid]))


def _saved_and_loaded(state: dict) -> dict:
    """Through torch.save and a weights-only load, as a phase checkpoint's novelty.pt."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _as_json_lists(value):
    """The format of checkpoints sealed before novelty.pt: tensors as JSON lists."""
    if isinstance(value, torch.Tensor):
        return {"tensor": value.tolist(), "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, dict):
        return {"__keys__": [[k, _as_json_lists(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [_as_json_lists(v) for v in value]
    return value


@pytest.mark.parametrize("through", ["torch_save", "legacy_json"])
def test_forward_model_round_trips_and_leaves_torchs_stream_alone(through):
    rng = np.random.default_rng(6)
    before = torch.random.get_rng_state()
    model = ForwardModelNovelty(seed=3)
    _train(model, rng, batches=10)
    assert torch.equal(torch.random.get_rng_state(), before)
    state = model.state_dict()
    if through == "legacy_json":
        state = {**state, "model": _as_json_lists(state["model"]), "optimizer": _as_json_lists(state["optimizer"])}
        state = json.loads(json.dumps(state))
    restored = ForwardModelNovelty(seed=3)
    restored.load_state_dict(_saved_and_loaded(state) if through == "torch_save" else state)
    probe = _batch(rng, 32, cue=0)
    np.testing.assert_array_equal(restored(*probe), model(*probe))
    again = _batch(rng, 32, cue=0)
    np.testing.assert_array_equal(restored(*again), model(*again))  # optimiser state restored too


@pytest.mark.parametrize("make, kwargs, match", [
    (RunningDensityNovelty, {"min_std": 0.0}, "min_std"),
    (RunningDensityNovelty, {"z_clip": -1.0}, "z_clip"),
    (ForwardModelNovelty, {"hidden": [0]}, "hidden"),
    (ForwardModelNovelty, {"steps_per_batch": -1}, "steps_per_batch"),
    (ForwardModelNovelty, {"learning_rate": float("nan")}, "learning_rate"),
])
def test_bad_settings_name_the_field(make, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(**kwargs)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="ignore_dims"):
        RunningDensityNovelty(ignore_dims=[9])(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="next_obs"):
        ForwardModelNovelty()(np.zeros((3, 4)), np.zeros((3, 2)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="obs"):
        RunningDensityNovelty()(np.array([1.0, np.nan]).reshape(1, 2))
