"""The regularisation baselines (l2, ewc, online_ewc, mas): their penalties, importances and gradients."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

from agents.cortex import CorticalLearner
from consolidation.memory import EpisodicMemory
from consolidation.strategies._anchors import Actor, actor_parameters, per_sample_gradients
from consolidation.strategies.ewc import EWC, fisher_diagonal
from consolidation.strategies.l2 import L2Anchor
from consolidation.strategies.mas import MAS
from consolidation.strategies.online_ewc import OnlineEWC
from consolidation.tagging import MemoryTaggingCallback
from envs.family import TaskFamily

FAMILY = TaskFamily("reach", {"A": "curl_cw", "B": "curl_ccw"}, context_cue=True)
REGULARISERS = {"l2": L2Anchor, "ewc": EWC, "online_ewc": OnlineEWC, "mas": MAS}


@pytest.fixture(scope="module")
def trained():
    """A tiny PPO cortex trained briefly on A then B, with tagged memories of both tasks."""
    venv = make_vec_env(FAMILY.env_id, n_envs=2, seed=0, env_kwargs=FAMILY.env_kwargs_for("A"))
    learner = CorticalLearner("ppo", [16, 16], n_envs=2, hyperparameters={"n_steps": 64, "batch_size": 64,
                                                                          "n_epochs": 1})
    learner.build(venv, 0)
    memory = EpisodicMemory(256, venv.observation_space.shape[0], venv.action_space.shape[0], seed=0)
    learner.learn(128, callback=MemoryTaggingCallback(memory, task=0, phase=0))
    learner.set_env(make_vec_env(FAMILY.env_id, n_envs=2, seed=1, env_kwargs=FAMILY.env_kwargs_for("B")))
    learner.learn(128, callback=MemoryTaggingCallback(memory, task=1, phase=2))
    return learner, memory


@pytest.fixture(scope="module")
def sac_learner():
    """A tiny SAC cortex (untrained: the baselines only read its actor)."""
    venv = make_vec_env(FAMILY.env_id, n_envs=1, seed=0, env_kwargs=FAMILY.env_kwargs_for("A"))
    learner = CorticalLearner("sac", [16, 16], n_envs=1, hyperparameters={"buffer_size": 1000})
    learner.build(venv, 0)
    return learner


def learner_for(algorithm, trained, sac_learner) -> CorticalLearner:
    return trained[0] if algorithm == "ppo" else sac_learner


@contextlib.contextmanager
def displaced(learner: CorticalLearner, scale: float, seed: int = 0):
    """The actor's weights moved by ``scale`` times a fixed random direction, restored afterwards."""
    params = actor_parameters(learner)
    saved = {k: p.detach().clone() for k, p in params.items()}
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in params.values():
            p.add_(scale * torch.randn(p.shape, generator=generator))
    try:
        yield
    finally:
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(saved[k])


def penalty(strategy, learner) -> float:
    value = strategy.wake_penalty(learner)
    return float(value.detach())


# ---------------------------------------------------------------------------------------- EWC
def test_ewc_penalty_is_none_before_the_first_task_then_zero_at_the_anchor_and_quadratic_away(trained):
    learner, memory = trained
    ewc = EWC(strength=100.0, fisher_samples=64)
    assert ewc.wake_penalty(learner) is None  # no penalty before a task has ended
    ewc.on_wake_end(learner, memory, 0)
    assert penalty(ewc, learner) == 0.0
    with displaced(learner, 0.01):
        small = penalty(ewc, learner)
    with displaced(learner, 0.02):
        double = penalty(ewc, learner)
    assert small > 0
    assert double == pytest.approx(4 * small, rel=1e-4)
    assert penalty(ewc, learner) == 0.0  # the weights are back


def test_fisher_is_finite_non_negative_and_large_where_the_log_prob_depends_on_the_weights(trained):
    learner, memory = trained
    ewc = EWC(fisher_samples=128)
    fisher = ewc.fisher(learner, memory, 0)
    params = actor_parameters(learner)
    assert fisher.keys() == params.keys()
    assert not any(k.startswith(("value_net", "mlp_extractor.value_net")) for k in fisher)  # critic excluded
    for name, f in fisher.items():
        assert f.shape == params[name].shape
        assert torch.isfinite(f).all() and (f >= 0).all(), name
    assert (fisher["action_net.0.weight"] > 0).all()  # every output weight changes the log-prob
    # d log N / d log_std = z^2 - 1 with z ~ N(0, 1): its square has mean 2
    assert fisher["log_std"].mean().item() == pytest.approx(2.0, abs=0.6)


def test_fisher_matches_per_sample_autograd_and_is_deterministic(trained):
    learner, memory = trained
    obs = torch.as_tensor(memory.arrays([0])["obs"][:6], dtype=torch.float32)
    fisher = fisher_diagonal(learner, obs, torch.Generator().manual_seed(3), chunk=4)
    # the same actions, drawn again, and gradients one state at a time with plain autograd
    actor = Actor(learner)
    with torch.no_grad():
        mean, log_std = actor(obs)
        actions = mean + log_std.exp() * torch.randn(mean.shape, generator=torch.Generator().manual_seed(3))
    expected = {k: torch.zeros_like(p) for k, p in actor.named_parameters()}
    for state, action in zip(obs, actions, strict=True):
        mu, log_sigma = actor(state[None])
        log_prob = torch.distributions.Normal(mu, log_sigma.exp()).log_prob(action[None]).sum()
        grads = torch.autograd.grad(log_prob, list(actor.parameters()))
        for (name, _), g in zip(actor.named_parameters(), grads, strict=True):
            expected[name] += g.square() / len(obs)
    for name, f in fisher.items():
        torch.testing.assert_close(f, expected[name], rtol=1e-4, atol=1e-6)
    again = EWC(seed=0).fisher(learner, memory, 0)
    first = EWC(seed=0).fisher(learner, memory, 0)
    other = EWC(seed=1).fisher(learner, memory, 0)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_ewc_keeps_one_anchor_and_fisher_per_task(trained):
    learner, memory = trained
    ewc = EWC(fisher_samples=32)
    ewc.on_wake_end(learner, memory, 0)
    ewc.on_wake_end(learner, memory, 1)
    ewc.on_wake_end(learner, memory, 0)  # a task learned again replaces its own entry
    assert sorted(ewc.terms) == ["0", "1"]


def test_online_ewc_running_fisher_is_gamma_old_plus_new_with_a_single_anchor(trained):
    learner, memory = trained
    online = OnlineEWC(gamma=0.7, fisher_samples=64, seed=5)
    online.on_wake_end(learner, memory, 0)
    old = {k: f.clone() for k, f in online.terms["online"][1].items()}
    with displaced(learner, 0.05):  # the cortex has moved on by the end of task 1
        online.on_wake_end(learner, memory, 1)
        new = EWC(fisher_samples=64, seed=5).fisher(learner, memory, 1)
        anchor = {k: p.detach().clone() for k, p in actor_parameters(learner).items()}
    assert list(online.terms) == ["online"]
    running, latest = online.terms["online"][1], online.terms["online"][0]
    for name in running:
        torch.testing.assert_close(running[name], 0.7 * old[name] + new[name], rtol=0, atol=0)
        assert torch.equal(latest[name], anchor[name])


# ------------------------------------------------------------------------------ L2 and MAS
@pytest.mark.parametrize("cls", [L2Anchor, MAS])
def test_l2_and_mas_penalties_are_zero_at_the_anchor_and_positive_away(cls, trained):
    learner, memory = trained
    strategy = cls(strength=1.0)
    assert strategy.wake_penalty(learner) is None
    strategy.on_wake_end(learner, memory, 0)
    assert penalty(strategy, learner) == 0.0
    with displaced(learner, 0.01):
        assert penalty(strategy, learner) > 0


def test_mas_importance_is_finite_non_negative_accumulated_and_zero_for_the_log_std(trained):
    learner, memory = trained
    mas = MAS(samples=64)
    first = mas.importance(learner, memory, 0)
    second = mas.importance(learner, memory, 1)
    for name, omega in first.items():
        assert torch.isfinite(omega).all() and (omega >= 0).all(), name
    assert (first["log_std"] == 0).all()  # the deterministic action does not depend on it
    assert first["action_net.0.weight"].sum() > 0
    mas.on_wake_end(learner, memory, 0)
    mas.on_wake_end(learner, memory, 1)
    for name, omega in mas.terms["latest"][1].items():
        torch.testing.assert_close(omega, first[name] + second[name])


def test_per_sample_gradients_of_a_linear_model_are_exact():
    """|d (w.x)^2 / dw| = 2 |w.x| |x|: checks the vmap machinery on a case solved by hand."""
    layer = torch.nn.Linear(3, 1, bias=False)
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))

    def squared(call, state):
        return call(state[None]).square().sum()

    omega = per_sample_gradients(layer, squared, (x,), reduce=torch.abs, chunk=3)
    with torch.no_grad():
        expected = (2 * (x @ layer.weight.T).abs() * x.abs()).mean(0, keepdim=True)
    torch.testing.assert_close(omega["weight"], expected)


# ---------------------------------------------------------------------- every regulariser
@pytest.mark.parametrize("algorithm", ["ppo", "sac"])
@pytest.mark.parametrize("name", sorted(REGULARISERS))
def test_penalty_gradient_reaches_the_learner_and_pulls_towards_the_anchor(name, algorithm, trained, sac_learner):
    """One optimizer step with no SB3 gradient, only the penalty's (the wake pre-step hook), moves
    the displaced actor back towards its anchor."""
    learner, memory = learner_for(algorithm, trained, sac_learner), trained[1]
    strategy = REGULARISERS[name](strength=10.0)
    strategy.on_wake_end(learner, memory, 0)
    optimizer = learner.model.actor.optimizer if algorithm == "sac" else learner.model.policy.optimizer
    saved_optimizer = optimizer.state_dict()
    anchor = strategy.snapshot(learner)

    def distance() -> float:
        return sum(float((p.detach() - anchor[k]).square().sum()) for k, p in actor_parameters(learner).items())

    with displaced(learner, 0.01):
        before_distance, before_penalty = distance(), penalty(strategy, learner)
        learner.set_wake_penalty(lambda: strategy.wake_penalty(learner))
        try:
            optimizer.zero_grad()
            optimizer.step()
        finally:
            learner.set_wake_penalty(None)
            optimizer.load_state_dict(saved_optimizer)
        after_distance, after_penalty = distance(), penalty(strategy, learner)
    assert after_penalty < before_penalty
    assert after_distance < before_distance


@pytest.mark.parametrize("algorithm", ["ppo", "sac"])
@pytest.mark.parametrize("name", sorted(REGULARISERS))
def test_state_round_trip_gives_the_same_penalty(name, algorithm, trained, sac_learner):
    learner, memory = learner_for(algorithm, trained, sac_learner), trained[1]
    strategy = REGULARISERS[name](strength=3.0)
    strategy.on_wake_end(learner, memory, 0)
    strategy.on_wake_end(learner, memory, 1)
    buffer = io.BytesIO()
    torch.save(strategy.state_dict(), buffer)
    buffer.seek(0)
    restored = REGULARISERS[name](strength=3.0)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    with displaced(learner, 0.01):
        assert penalty(restored, learner) == penalty(strategy, learner) > 0


@pytest.mark.parametrize("name,bad", [("l2", {"strength": -1.0}), ("ewc", {"fisher_samples": 0}),
                                      ("online_ewc", {"gamma": 1.5}), ("mas", {"strength": float("nan")})])
def test_bad_parameters_are_rejected_by_name(name, bad):
    with pytest.raises(ValueError, match=f"consolidation.{next(iter(bad))}="):
        REGULARISERS[name](**bad)
