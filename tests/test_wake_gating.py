"""Wake gating on a real PPO learner on real MuJoCo reach: the signal's factor reaches the
optimiser's step size, a surge clears its moments, and the schedule is restored after the wake."""

from __future__ import annotations

import json

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import envs  # noqa: F401  (registers the motorsleep/* ids)
from consolidation.memory import EpisodicMemory
from consolidation.novelty import ForwardModelNovelty
from consolidation.tagging import MemoryTaggingCallback
from consolidation.wake_gating import WakeGating

N_ENVS, N_STEPS, LR = 2, 64, 3e-4


def _learn(gating: WakeGating, env_id: str = "motorsleep/ReachCurlCW-v0", rollouts: int = 3, model=None,
           novelty=None):
    model = model or PPO("MlpPolicy", make_vec_env(env_id, n_envs=N_ENVS, seed=0), n_steps=N_STEPS, batch_size=64,
                         n_epochs=1, learning_rate=LR, seed=0, policy_kwargs={"net_arch": [16, 16]}, device="cpu")
    memory = EpisodicMemory(capacity_per_task=2000, obs_dim=10, action_dim=2)
    tagger = MemoryTaggingCallback(memory, task=0, phase=0, novelty=novelty)
    model.learn(rollouts * N_ENVS * N_STEPS, callback=[tagger, gating.callback(tagger)], reset_num_timesteps=False)
    return model, tagger


def test_observe_gives_the_clipped_ratio_to_a_moving_baseline():
    gating = WakeGating(signal="novelty", factor_min=0.5, factor_max=4.0, baseline_decay=0.5)
    assert gating.observe(2.0) == 1.0 and gating.baseline == 2.0  # no baseline yet
    assert gating.observe(4.0) == pytest.approx(2.0)
    assert gating.baseline == pytest.approx(3.0)
    assert gating.observe(30.0) == 4.0  # clipped above
    assert gating.observe(0.0) == 0.5  # clipped below


def test_the_factor_reaches_the_optimisers_step_size_and_the_schedule_is_restored():
    gating = WakeGating(signal="td_error", factor_min=0.1, factor_max=10.0)
    model, tagger = _learn(gating)
    assert gating.baseline is not None and gating.factor != 1.0
    # the last update ran at the base rate times the factor set by the rollout before it
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(LR * gating.factor)
    assert model.lr_schedule(1.0) == pytest.approx(LR)  # the wake's own schedule is back


def test_a_surge_clears_the_optimisers_moments():
    # learn A, then switch to B: the forward model's surprise at the new field is the surge
    gating, novelty = WakeGating(signal="novelty", reset_moments_above=1.5, factor_max=10.0), ForwardModelNovelty()
    model, _ = _learn(gating, rollouts=6, novelty=novelty)
    before = gating.resets
    model.set_env(make_vec_env("motorsleep/ReachCurlCCW-v0", n_envs=N_ENVS, seed=1))
    # the same forward model, as in an experiment; with this tiny a policy the surprise peaks on
    # B's second batch (1.2x, then 2x the baseline on seed 0)
    _learn(gating, model=model, rollouts=2, novelty=novelty)
    assert gating.resets == before + 1 and gating.factor > 1.5


def test_state_round_trips_through_json():
    gating = WakeGating(signal="novelty")
    for level in (1.0, 2.0, 0.5):
        gating.observe(level)
    restored = WakeGating(signal="novelty")
    restored.load_state_dict(json.loads(json.dumps(gating.state_dict())))
    assert restored.observe(3.0) == gating.observe(3.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"signal": "serotonin"}, "signal"),
    ({"factor_min": 0.0}, "factor_min"),
    ({"factor_max": 0.5}, "factor_max"),
    ({"baseline_decay": 1.0}, "baseline_decay"),
    ({"exponent": -1.0}, "exponent"),
    ({"reset_moments_above": np.nan}, "reset_moments_above"),
])
def test_bad_settings_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WakeGating(**kwargs)
