"""Plasticity remedies (agents/plasticity.py) and diagnostics (agents/plasticity_diagnostics.py),
on real SB3 PPO cortices at tiny budgets and on hand-built layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from stable_baselines3.common.env_util import make_vec_env
from torch import nn

from agents.cortex import CorticalLearner
from agents.plasticity import (
    PLASTICITY,
    EqualBetasAdam,
    LayerNormWeightDecay,
    ReDo,
    Reset,
    ShrinkPerturb,
    recycle_dormant,
)
from agents.plasticity_diagnostics import HiddenLayer, dormant_units, effective_rank, measure, saturated_fraction
from envs.family import TaskFamily
from tests.test_configs import CONFIGS, compose_with

TINY = {"n_steps": 64, "batch_size": 64, "n_epochs": 1}


def tiny_cortex(plasticity=None, seed: int = 0, hyperparameters=None, **kwargs) -> tuple[CorticalLearner, TaskFamily]:
    family = TaskFamily("reach", {"A": "curl_cw", "B": "curl_ccw"}, context_cue=True)
    venv = make_vec_env(family.env_id, n_envs=2, seed=seed, env_kwargs=family.env_kwargs_for("A"))
    learner = CorticalLearner("ppo", [16, 16], n_envs=2, hyperparameters={**TINY, **(hyperparameters or {})},
                              plasticity=plasticity, **kwargs)
    torch.manual_seed(seed)
    learner.build(venv, seed)
    return learner, family


def observations(family: TaskFamily, n: int = 256) -> np.ndarray:
    env = family.make_env("A")
    obs, _ = env.reset(seed=0)
    batch = [obs]
    for _ in range(n - 1):
        obs, *_ = env.step(env.action_space.sample())
        batch.append(obs)
    return np.asarray(batch, dtype=np.float32)


@pytest.mark.parametrize("option", sorted(p.stem for p in (CONFIGS / "agent" / "plasticity").glob("*.yaml")))
def test_a_remedy_has_one_name(option):
    """YAML option = registry key = the remedy's name, and it composes into the agent."""
    remedy = instantiate(compose_with(f"agent/plasticity={option}").agent.plasticity, _convert_="all")
    assert remedy.name == option and PLASTICITY[option] is type(remedy)


def test_equal_betas_reach_the_optimizer():
    learner, _ = tiny_cortex(EqualBetasAdam(beta=0.95))
    group = learner.model.policy.optimizer.param_groups[0]
    assert group["betas"] == (0.95, 0.95) and group["eps"] == 1e-5


def test_layer_norm_and_weight_decay_are_built_and_survive_a_save(tmp_path):
    learner, family = tiny_cortex(LayerNormWeightDecay(weight_decay=1e-3))
    policy = learner.model.policy
    norms = [m for m in policy.mlp_extractor.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 4  # two hidden layers in actor and in critic
    assert isinstance(policy.optimizer, torch.optim.AdamW) and policy.optimizer.param_groups[0]["weight_decay"] == 1e-3
    assert all(any(p is q for g in policy.optimizer.param_groups for q in g["params"]) for p in norms[0].parameters())
    learner.learn(128)
    obs = observations(family, 16)
    before = learner.model.predict(obs, deterministic=True)[0]
    learner.model.save(tmp_path / "cortex.zip")
    restored = CorticalLearner("ppo", [16, 16], n_envs=2, hyperparameters=TINY,
                               plasticity=LayerNormWeightDecay(weight_decay=1e-3))
    restored.load(tmp_path / "cortex.zip")
    assert sum(isinstance(m, nn.LayerNorm) for m in restored.model.policy.modules()) == 4
    np.testing.assert_allclose(restored.model.predict(obs, deterministic=True)[0], before, atol=1e-6)


def test_no_remedy_builds_the_same_cortex_as_before():
    """The plain learner is unchanged by the remedies' plumbing: same weights, same updates."""
    plain, _ = tiny_cortex(None, seed=3)
    none, _ = tiny_cortex(PLASTICITY["none"](), seed=3)
    for p, q in zip(plain.model.policy.parameters(), none.model.policy.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not any(isinstance(m, nn.LayerNorm) for m in plain.model.policy.modules())


def _linear_weights(policy) -> list[torch.Tensor]:
    return [m.weight.detach().clone() for m in policy.modules() if isinstance(m, nn.Linear)]


def test_shrink_and_perturb_mixes_old_and_fresh_weights_only_at_a_switch():
    learner, family = tiny_cortex(ShrinkPerturb(shrink=0.5, perturb=0.1))
    before = _linear_weights(learner.model.policy)
    venv = make_vec_env(family.env_id, n_envs=2, seed=1, env_kwargs=family.env_kwargs_for("B"))
    learner.set_env(venv, context_changed=False)   # same context: nothing happens
    assert all(torch.equal(a, b) for a, b in zip(before, _linear_weights(learner.model.policy), strict=True))
    learner.set_env(venv, context_changed=True)
    after = _linear_weights(learner.model.policy)
    for old, new in zip(before, after, strict=True):
        noise = new - 0.5 * old
        assert not torch.allclose(new, old)
        # the fresh part is an orthogonal init scaled by 0.1: norm 0.1 * gain * sqrt(min(shape))
        assert 0.0 < float(noise.norm()) <= 0.1 * np.sqrt(2) * np.sqrt(min(old.shape)) + 1e-5


def test_a_reset_keeps_nothing_of_the_old_weights():
    learner, family = tiny_cortex(Reset())
    before = _linear_weights(learner.model.policy)
    venv = make_vec_env(family.env_id, n_envs=2, seed=1, env_kwargs=family.env_kwargs_for("B"))
    learner.set_env(venv, context_changed=True)
    hidden_old, hidden_new = before[0].flatten(), _linear_weights(learner.model.policy)[0].flatten()
    assert abs(float(torch.corrcoef(torch.stack([hidden_old, hidden_new]))[0, 1])) < 0.3


def test_redo_recycles_a_dormant_unit_without_changing_the_output():
    learner, family = tiny_cortex(ReDo())
    policy = learner.model.policy
    first = policy.mlp_extractor.policy_net[0]
    with torch.no_grad():      # silence unit 3 of the actor's first layer: tanh(0) = 0 on every input
        first.weight[3] = 0.0
        first.bias[3] = 0.0
    obs = observations(family)
    before = policy.get_distribution(torch.as_tensor(obs)).distribution.mean.detach()
    recycled = recycle_dormant(policy, obs, threshold=0.1)
    assert recycled >= 1
    assert float(first.weight[3].detach().abs().sum()) > 0                    # incoming weights re-initialised
    assert float(policy.mlp_extractor.policy_net[2].weight[:, 3].detach().abs().sum()) == 0   # outgoing zeroed
    after = policy.get_distribution(torch.as_tensor(obs)).distribution.mean.detach()
    torch.testing.assert_close(after, before)
    assert measure(policy, obs).dormant_fraction < 1.0


def test_redo_runs_inside_wake_and_logs(tmp_path):
    learner, _ = tiny_cortex(ReDo(every=1), diagnostics_every=1)
    learner.learn(256)
    assert np.isfinite([p.detach().numpy().sum() for p in learner.model.policy.parameters()]).all()


@pytest.mark.parametrize("key,value,remedy", [("shrink", 2.0, "shrink_perturb"), ("beta", 1.0, "adam_equal_betas"),
                                              ("every", 0, "redo"), ("weight_decay", -1.0, "layernorm_weight_decay")])
def test_a_bad_setting_names_its_key(key, value, remedy):
    cfg = compose_with(f"agent/plasticity={remedy}", f"agent.plasticity.{key}={value}")
    with pytest.raises(Exception, match=f"agent.plasticity.{key}"):
        instantiate(cfg.agent.plasticity, _convert_="all")


def test_a_remedy_for_ppo_only_refuses_sac():
    with pytest.raises(ValueError, match="agent.plasticity='redo' is not allowed with agent.algorithm='sac'"):
        CorticalLearner("sac", [16, 16], plasticity=ReDo())


# -- diagnostics on hand-built layers ----------------------------------------------------------
def test_effective_rank_counts_the_directions_that_hold_the_mass():
    rng = np.random.default_rng(0)
    basis = torch.as_tensor(rng.normal(size=(2, 8)))
    features = torch.as_tensor(rng.normal(size=(100, 2))) @ basis     # rank 2
    assert effective_rank(features) == 2
    assert effective_rank(torch.as_tensor(rng.normal(size=(200, 8)))) == 8
    assert effective_rank(torch.zeros(10, 4)) == 0


def test_dormant_and_saturated_units_on_a_hand_built_layer():
    z = torch.tensor([[0.0, 5.0, 1.0, -0.5], [0.0, 6.0, -1.0, 0.5], [0.0, 7.0, 0.8, 0.2]])
    layer = HiddenLayer(z, torch.tanh(z), nn.Tanh())
    # unit 0 never responds, unit 1 is stuck at tanh = 1 (no slope), units 2 and 3 are alive
    assert dormant_units(layer).tolist() == [True, True, False, False]
    assert saturated_fraction(layer.h) == 0.25
    relu = HiddenLayer(z, torch.relu(z), nn.ReLU())
    assert dormant_units(relu).tolist() == [True, False, False, False]   # a positive ReLU unit is alive


def test_head_reset_renews_the_output_layer_and_keeps_the_features():
    from agents.plasticity import HeadReset

    learner, family = tiny_cortex(HeadReset())
    policy = learner.model.policy
    hidden_before = _linear_weights(policy.mlp_extractor)
    with torch.no_grad():
        policy.action_net[0].bias.fill_(5.0)    # a saturated bounded mean: tanh(5) on every state
    obs = observations(family, 64)
    assert measure(policy, obs).saturated_mean_fraction == 1.0
    venv = make_vec_env(family.env_id, n_envs=2, seed=1, env_kwargs=family.env_kwargs_for("B"))
    learner.set_env(venv, context_changed=True)
    assert all(torch.equal(a, b) for a, b in zip(hidden_before, _linear_weights(policy.mlp_extractor), strict=True))
    assert float(policy.action_net[0].bias.detach().abs().max()) == 0.0
    assert measure(policy, obs).saturated_mean_fraction == 0.0


def test_the_mean_penalty_pulls_a_saturated_mean_out_of_the_tails():
    from agents.plasticity import MeanPenalty

    obs = None
    shares = {}
    for name, remedy in (("plain", None), ("penalty", MeanPenalty(coefficient=1.0, batch=64))):
        # Adam moves each weight by about its learning rate per step whatever the gradient's size: a
        # large rate lets a few tiny updates show the direction each learner takes
        learner, family = tiny_cortex(remedy, seed=2, hyperparameters={"learning_rate": 0.02, "n_epochs": 4})
        with torch.no_grad():
            learner.model.policy.action_net[0].bias.fill_(4.0)   # tanh(4): 0.1% of the gradient passes
        obs = observations(family, 64) if obs is None else obs
        learner.learn(1024)
        shares[name] = measure(learner.model.policy, obs).saturated_mean_fraction
    assert shares["plain"] > 0.9 and shares["penalty"] < 0.5 * shares["plain"]


def test_the_mean_penalty_needs_a_bounded_mean():
    from agents.plasticity import MeanPenalty

    with pytest.raises(ValueError, match="agent.plasticity='mean_penalty' needs agent.bounded_mean=true"):
        tiny_cortex(MeanPenalty(), bounded_mean=False)
