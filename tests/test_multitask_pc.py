"""The multitask upper bound and Progress & Compress (consolidation/strategies/multitask.py,
progress_compress.py): what each adds beyond the hook contract of tests/test_strategies.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from torch.func import functional_call, grad, vmap

from agents.cortex import CorticalLearner
from agents.subcortical import SubcorticalPolicy, gaussian_kl
from consolidation.memory import EpisodicMemory
from consolidation.strategies.multitask import Multitask
from consolidation.strategies.progress_compress import (
    CRITIC_PREFIXES,
    ProgressCompress,
    gaussian_policy_fisher,
    reinitialise_cortex,
)
from consolidation.tagging import MemoryTaggingCallback
from envs.family import TaskFamily
from runner.schema import register

ROOT = Path(__file__).resolve().parents[1]
FAMILY = TaskFamily("reach", {"A": "curl_cw", "B": "curl_ccw"}, context_cue=True)
register()


def tiny_learner(algorithm: str = "ppo", seed: int = 0) -> tuple[CorticalLearner, EpisodicMemory]:
    """A 16x16 cortex trained briefly on A then B, with tagged memories of both (tasks 0 and 1)."""
    hyperparameters = ({"n_steps": 64, "batch_size": 64, "n_epochs": 1} if algorithm == "ppo" else
                       {"buffer_size": 1000, "learning_starts": 32, "batch_size": 32})
    learner = CorticalLearner(algorithm, [16, 16], n_envs=2, hyperparameters=hyperparameters)
    venv = make_vec_env(FAMILY.env_id, n_envs=2, seed=seed, env_kwargs=FAMILY.env_kwargs_for("A"))
    learner.build(venv, seed)
    memory = EpisodicMemory(512, venv.observation_space.shape[0], venv.action_space.shape[0], seed=seed)
    learner.learn(256, callback=MemoryTaggingCallback(memory, task=0, phase=0))
    learner.set_env(make_vec_env(FAMILY.env_id, n_envs=2, seed=seed + 1, env_kwargs=FAMILY.env_kwargs_for("B")))
    learner.learn(256, callback=MemoryTaggingCallback(memory, task=1, phase=2))
    return learner, memory


@pytest.fixture(scope="module")
def trained() -> tuple[CorticalLearner, EpisodicMemory]:
    """Shared by the tests that never change the cortex."""
    return tiny_learner()


def student_for(memory: EpisodicMemory, hidden=(16, 16)) -> SubcorticalPolicy:
    torch.manual_seed(0)
    return SubcorticalPolicy(memory.obs_dim, memory.action_dim, list(hidden))


# -- multitask --------------------------------------------------------------------------------

class ContextRecorder(BaseCallback):
    """Which env index stepped which context id (from the env's ``info["context_id"]``)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[int, int]] = set()

    def _on_step(self) -> bool:
        for env_index, info in enumerate(self.locals["infos"]):
            self.seen.add((env_index, int(info["context_id"])))
        return True


def test_multitask_sees_every_context(tmp_path):
    """A multitask wake steps every protocol context, in the real experiment: results.json says so and
    the envs' own context ids agree, dealt round-robin over the learner's envs."""
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=smoke", "consolidation=multitask"])
    OmegaConf.set_struct(cfg, False)
    cfg.run_dir = str(tmp_path)
    experiment = instantiate(cfg)
    recorders: list[ContextRecorder] = []
    learn = experiment.learner.learn

    def learn_and_record(steps, callback=None):
        recorders.append(ContextRecorder())
        learn(steps, callback=[*callback, recorders[-1]])

    experiment.learner.learn = learn_and_record
    experiment.run()
    results = json.loads((tmp_path / "results.json").read_text())
    wakes = [p for p in results["phases"] if p["kind"] == "wake"]
    assert [w["context"] for w in wakes] == ["A", "B"]
    assert all(w["contexts_stepped"] == ["A", "B"] for w in wakes)
    ids = {label: FAMILY.index(label) for label in ("A", "B")}
    assert len(recorders) == len(wakes) == 2
    for recorder in recorders:  # env 0 steps A, env 1 steps B, in both wakes
        assert recorder.seen == {(0, ids["A"]), (1, ids["B"])}
    sleeps = [p for p in results["phases"] if p["kind"] == "sleep"]
    assert sleeps and all(p["skipped"] and p["env_steps"] == 0 for p in sleeps)  # a plain cortical baseline


def test_multitask_wake_contexts_and_optional_distillation(trained):
    learner, memory = trained
    assert Multitask().wake_contexts("B", ["A", "B", "C"]) == ["A", "B", "C"]
    student = student_for(memory)
    before = [p.detach().clone() for p in student.parameters()]
    assert Multitask().sleep(student, memory, 1, learner, seed=0, updates=5) is None
    report = Multitask(distill_in_sleep=True, interleave=False).sleep(student, memory, 1, learner, seed=0, updates=5)
    assert report is not None and report.env_steps == 0 and report.replayed_tasks == [1]
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters(), strict=True))


# -- Progress & Compress: the knowledge base's online-EWC penalty ------------------------------

def perturbed(student: SubcorticalPolicy, scale: float) -> SubcorticalPolicy:
    other = SubcorticalPolicy(student.obs_dim, student.action_dim, student.hidden)
    other.load_state_dict(student.state_dict())
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator))
    return other


def test_pc_penalty_is_zero_at_its_anchor_and_grows_away_from_it(trained):
    learner, memory = trained
    strategy = ProgressCompress(updates=20, batch_size=64)
    student = student_for(memory)
    assert float(strategy.penalty(student).detach()) == 0.0  # nothing compressed yet
    strategy.sleep(student, memory, 0, learner, seed=0, updates=strategy.sleep_updates)
    assert float(strategy.penalty(student).detach()) == 0.0  # anchored at the knowledge base after compress
    values = [float(strategy.penalty(perturbed(student, scale)).detach()) for scale in (1e-3, 1e-2, 1e-1)]
    assert 0.0 < values[0] < values[1] < values[2]
    assert values[1] / values[0] == pytest.approx(100.0, rel=1e-3)  # quadratic in the distance
    fisher = torch.cat([f.flatten() for f in strategy.fisher.values()])
    assert torch.isfinite(fisher).all() and (fisher >= 0).all() and (fisher > 0).any()
    assert torch.equal(strategy.fisher["log_std"], torch.full_like(student.log_std, 2.0))  # exact for a Gaussian


def test_pc_fisher_is_the_gaussian_policys_fisher_and_decays_online(trained):
    """The closed form equals a Monte Carlo estimate E[(d log pi / d theta)^2] with sampled actions,
    and F* <- gamma F* + F after each compress."""
    torch.manual_seed(0)
    policy = SubcorticalPolicy(4, 2, [5], log_std_init=-0.5)
    states = torch.randn(8, 4)
    exact = gaussian_policy_fisher(policy, states, chunk=3)
    params = {name: p.detach() for name, p in policy.named_parameters()}
    samples = 4000
    obs = states.repeat_interleave(samples, 0)
    with torch.no_grad():
        mean, log_std = policy(obs)
        actions = mean + log_std.exp() * torch.randn(mean.shape, generator=torch.Generator().manual_seed(2))

    def log_prob(p, state, action):
        m, s = functional_call(policy, p, (state.unsqueeze(0),))
        return torch.distributions.Normal(m, s.exp()).log_prob(action.unsqueeze(0)).sum()

    scores = vmap(grad(log_prob), in_dims=(None, 0, 0))(params, obs, actions)
    for name, value in exact.items():
        estimate = (scores[name] ** 2).mean(0)
        torch.testing.assert_close(estimate, value, rtol=0.1, atol=1e-3 * float(value.max()))

    learner, memory = trained
    strategy = ProgressCompress(updates=5, batch_size=32, ewc_gamma=0.5, fisher_states=64)
    student = student_for(memory)
    strategy.sleep(student, memory, 0, learner, seed=0, updates=strategy.sleep_updates)
    first = {k: v.clone() for k, v in strategy.fisher.items()}
    strategy.sleep(student, memory, 1, learner, seed=1, updates=strategy.sleep_updates)
    obs1 = memory.arrays([1])["obs"]
    rows = np.sort(np.random.default_rng(1).choice(len(obs1), 64, replace=False))
    latest = gaussian_policy_fisher(student, torch.as_tensor(obs1[rows]))
    for name, value in strategy.fisher.items():
        torch.testing.assert_close(value, 0.5 * first[name] + latest[name])
    assert strategy.compressions == 2


def heldout_states(learner: CorticalLearner, label: str, episodes: int = 4, steps: int = 40) -> torch.Tensor:
    """States visited by the cortex on fresh episodes (seeds no memory was collected with)."""
    env, states = FAMILY.make_env(label), []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        for _ in range(steps):
            states.append(obs)
            obs, _, terminated, truncated, _ = env.step(learner.act(obs))
            if terminated or truncated:
                break
    env.close()
    return torch.as_tensor(np.array(states), dtype=torch.float32)


@torch.no_grad()
def kl_to_cortex(student: SubcorticalPolicy, learner: CorticalLearner, states: torch.Tensor) -> float:
    mean, log_std = (torch.as_tensor(a) for a in learner.action_distribution(states.numpy()))
    return float(gaussian_kl(mean, log_std, *student(states)).mean())


def test_pc_compress_brings_the_knowledge_base_closer_to_the_active_column(trained):
    learner, memory = trained
    strategy = ProgressCompress(updates=300, batch_size=64)
    student = student_for(memory)
    states = heldout_states(learner, "B")
    # a first compress: the penalty is live afterwards
    strategy.sleep(student, memory, 0, learner, seed=0, updates=strategy.sleep_updates)
    before = kl_to_cortex(student, learner, states)
    report = strategy.sleep(student, memory, 1, learner, seed=1, updates=strategy.sleep_updates)
    after = kl_to_cortex(student, learner, states)
    assert float(strategy.penalty(perturbed(student, 1e-2)).detach()) > 0 and report.env_steps == 0
    assert after < 0.75 * before, (before, after)


def test_pc_state_survives_a_weights_only_round_trip(trained):
    learner, memory = trained
    strategy = ProgressCompress(updates=5, batch_size=32)
    student = student_for(memory)
    strategy.sleep(student, memory, 0, learner, seed=0, updates=strategy.sleep_updates)
    strategy.on_wake_end(learner, memory, 1)
    buffer = io.BytesIO()
    torch.save(strategy.state_dict(), buffer)
    buffer.seek(0)
    restored = ProgressCompress()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    away = perturbed(student, 1e-2)
    assert restored.compressions == 1 and restored.last_task == 1
    assert torch.equal(restored.penalty(away), strategy.penalty(away))


def test_sleep_without_extra_loss_is_unchanged_and_with_it_adds_its_value(trained):
    """The extension point of consolidation/sleep.py: None is the plain loop, a constant shifts the loss."""
    from consolidation.sleep import Sleep

    learner, memory = trained
    reports = []
    for extra in (None, lambda student: torch.tensor(0.25)):
        student = student_for(memory)
        reports.append(Sleep(batch_size=32, log_every=1, interleave=False).run(
            student, memory, 0, learner, seed=0, updates=3, extra_loss=extra))
    np.testing.assert_allclose(np.array(reports[1].loss_curve) - reports[0].loss_curve, 0.25, rtol=1e-5)


# -- Progress & Compress: the active column's reset -------------------------------------------

def split(policy) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(actor, critic) tensors of an SB3 policy, cloned."""
    state = {k: v.clone() for k, v in policy.state_dict().items()}
    critic = {k: v for k, v in state.items() if k.startswith(CRITIC_PREFIXES)}
    return {k: v for k, v in state.items() if k not in critic}, critic


def test_pc_reset_reinitialises_the_active_column_before_each_new_task():
    learner, memory = tiny_learner(seed=3)
    strategy = ProgressCompress(reset_critic=False)
    policy = learner.model.policy
    first_actor, first_critic = split(policy)
    strategy.on_wake_start(learner, memory, 0)  # the first wake: nothing to reset
    assert all(torch.equal(v, policy.state_dict()[k]) for k, v in {**first_actor, **first_critic}.items())
    strategy.on_wake_end(learner, memory, 0)
    learner.learn(128)  # moves the weights and fills Adam's state
    assert any(len(o.state) for o in learner.optimizers())
    actor, critic = split(policy)

    strategy.on_wake_start(learner, memory, 1)  # a new task: the active column starts afresh
    now = policy.state_dict()
    assert all(not torch.equal(v, now[k]) for k, v in actor.items() if v.numel() > 1), "every actor tensor changes"
    assert torch.equal(now["log_std"], torch.zeros_like(now["log_std"]))  # SB3's log_std_init
    assert all(torch.equal(v, now[k]) for k, v in critic.items())  # reset_critic=False keeps the critic
    assert all(len(o.state) == 0 for o in learner.optimizers())
    assert all(p is q for p, q in zip(learner.optimizers()[0].param_groups[0]["params"], policy.parameters(),
                                      strict=True))
    fresh = split(policy)[0]
    learner.learn(128)  # and it learns from there
    assert any(not torch.equal(v, policy.state_dict()[k]) for k, v in fresh.items()) and learner.policy_finite()

    strategy.on_wake_end(learner, memory, 1)
    same = split(policy)
    strategy.on_wake_start(learner, memory, 1)  # the same task again: no reset
    assert all(torch.equal(v, policy.state_dict()[k]) for k, v in {**same[0], **same[1]}.items())
    off = ProgressCompress(reset_active_column=False)  # and the switch turns it off
    off.on_wake_end(learner, memory, 1)
    off.on_wake_start(learner, memory, 0)
    assert all(torch.equal(v, policy.state_dict()[k]) for k, v in {**same[0], **same[1]}.items())


def test_pc_reset_of_a_sac_cortex_covers_actor_critic_and_target():
    learner, _ = tiny_learner("sac", seed=4)
    policy = learner.model.policy
    actor, critic = split(policy)
    assert any(len(o.state) for o in learner.optimizers())
    reinitialise_cortex(learner, critic=False)
    now = policy.state_dict()
    assert all(not torch.equal(v, now[k]) for k, v in actor.items() if v.numel() > 1)
    assert all(torch.equal(v, now[k]) for k, v in critic.items())
    reinitialise_cortex(learner, critic=True)
    now = policy.state_dict()
    assert all(not torch.equal(v, now[k]) for k, v in critic.items() if v.numel() > 1)
    for name, value in now.items():  # a new SAC policy's target network starts as its critic
        if name.startswith("critic_target."):
            assert torch.equal(value, now[name.replace("critic_target.", "critic.", 1)])
    assert all(len(o.state) == 0 for o in learner.optimizers())
