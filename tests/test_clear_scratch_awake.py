"""CLEAR (wake cloning), the scratch-student ablation and the awake control, on a tiny real cortex."""

from __future__ import annotations

import copy
import io
import math

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from torch.optim.optimizer import register_optimizer_step_post_hook

from agents.cortex import CorticalLearner
from agents.subcortical import SubcorticalPolicy
from consolidation.memory import EpisodicMemory
from consolidation.sleep import Sleep, taken_action_loss
from consolidation.strategies.awake_control import AwakeControl
from consolidation.strategies.clear import CLEAR
from consolidation.strategies.gated import Gated
from consolidation.strategies.replay_distill import ReplayDistill
from consolidation.strategies.scratch_student import ScratchStudent
from consolidation.tagging import MemoryTaggingCallback
from envs.family import TaskFamily

FAMILY = TaskFamily("reach", {"A": "curl_cw", "B": "curl_ccw"}, context_cue=True)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _learner(algorithm: str, hyperparameters: dict):
    """A tiny cortex trained on A then B (128 steps each), with tagged memories of both tasks."""
    venv = make_vec_env(FAMILY.env_id, n_envs=2, seed=0, env_kwargs=FAMILY.env_kwargs_for("A"))
    learner = CorticalLearner(algorithm, [16, 16], n_envs=2, hyperparameters=hyperparameters)
    learner.build(venv, 0)
    memory = EpisodicMemory(256, venv.observation_space.shape[0], venv.action_space.shape[0], seed=0)
    learner.learn(128, callback=MemoryTaggingCallback(memory, task=0, phase=0, tag_every=16))
    learner.set_env(make_vec_env(FAMILY.env_id, n_envs=2, seed=1, env_kwargs=FAMILY.env_kwargs_for("B")))
    learner.learn(128, callback=MemoryTaggingCallback(memory, task=1, phase=2, tag_every=16))
    return learner, memory


@pytest.fixture(scope="module")
def ppo():
    return _learner("ppo", {"n_steps": 64, "batch_size": 64, "n_epochs": 1})


@pytest.fixture(scope="module")
def sac():
    return _learner("sac", {"learning_starts": 64, "batch_size": 32, "buffer_size": 1000})


def student_for(memory: EpisodicMemory, learner: CorticalLearner, hidden=(16, 16)) -> SubcorticalPolicy:
    torch.manual_seed(0)
    return SubcorticalPolicy(memory.obs_dim, memory.action_dim, list(hidden), bounded_mean=learner.bounded_mean,
                             squash=learner.algorithm == "sac")


def snapshot(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def unchanged(before: list[torch.Tensor], module) -> bool:
    return all(torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


class Untouchable:
    """Stands in for an object a strategy must not use: any attribute access fails the test."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute):
        raise AssertionError(f"the {self._name} was used: .{attribute}")


def optimizer_steps_of(module, run) -> int:
    """Optimizer steps taken on ``module``'s parameters while ``run()`` executes."""
    first = next(module.parameters())
    steps = []

    def count(optimizer, args, kwargs):
        if any(p is first for group in optimizer.param_groups for p in group["params"]):
            steps.append(1)

    handle = register_optimizer_step_post_hook(count)
    try:
        run()
    finally:
        handle.remove()
    return len(steps)


# ---------------------------------------------------------------------------------------- CLEAR
def test_clear_penalty_is_zero_without_earlier_task_positive_after_drift_and_its_step_reduces_the_kl(ppo):
    learner, memory = ppo
    policy = learner.model.policy
    weights, moments = copy.deepcopy(policy.state_dict()), copy.deepcopy(policy.optimizer.state_dict())
    clear = CLEAR(batch_size=256)
    try:
        clear.on_wake_start(learner, memory, 0)
        assert clear.wake_penalty(learner) is None  # no earlier task: no penalty
        clear.on_wake_end(learner, memory, 0)
        clear.on_wake_start(learner, memory, 1)
        assert clear.wake_penalty(learner).item() < 1e-10  # the policy still is what was recorded

        torch.manual_seed(1)
        with torch.no_grad():  # the policy drifts away from its recorded targets
            for parameter in policy.parameters():
                parameter.add_(0.2 * torch.randn_like(parameter))
        penalty = clear.wake_penalty(learner)
        assert penalty.dim() == 0 and penalty.item() > 0
        with torch.no_grad():
            kl_before, value_before = clear.cloning_losses(learner)  # over every recorded state
        assert kl_before > 0 and value_before > 0

        # one step of the cortex's own optimizer whose only gradient is the penalty's
        learner.set_wake_penalty(lambda: clear.wake_penalty(learner))
        policy.optimizer.zero_grad()
        policy.optimizer.step()
        learner.set_wake_penalty(None)
        with torch.no_grad():
            kl_after, value_after = clear.cloning_losses(learner)
        assert kl_after < kl_before and value_after < value_before
    finally:
        policy.load_state_dict(weights)
        policy.optimizer.load_state_dict(moments)


def test_clear_replays_only_earlier_tasks_and_resumes_with_the_same_batches(ppo):
    learner, memory = ppo
    clear = CLEAR(batch_size=32, seed=3)
    for task in (0, 1):
        clear.on_wake_start(learner, memory, task)
        clear.on_wake_end(learner, memory, task)
    buffer = io.BytesIO()
    torch.save(clear.state_dict(), buffer)
    buffer.seek(0)
    resumed = CLEAR(batch_size=32, seed=3)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))

    for strategy in (clear, resumed):  # a later wake on task 1 again clones task 0 only
        strategy.on_wake_start(learner, memory, 1)
        assert torch.equal(strategy._pool["obs"], torch.as_tensor(memory.arrays([0])["obs"]))
    penalties = [[s.wake_penalty(learner).item() for _ in range(3)] for s in (clear, resumed)]
    assert penalties[0] == penalties[1]


def test_clear_with_sac_clones_the_actor_and_skips_the_value(sac):
    learner, memory = sac
    actor, critic = learner.model.actor, learner.model.critic
    weights = copy.deepcopy(actor.state_dict())
    clear = CLEAR(batch_size=64)
    clear.on_wake_end(learner, memory, 0)
    clear.on_wake_start(learner, memory, 1)
    try:
        kl, value = clear.cloning_losses(learner)
        assert kl.item() < 1e-8 and value.item() == 0.0 and torch.isnan(clear.targets[0]["value"]).all()
        with torch.no_grad():
            for parameter in actor.parameters():
                parameter.add_(0.2 * torch.randn_like(parameter))
        actor.zero_grad(set_to_none=True)
        critic.zero_grad(set_to_none=True)
        penalty = clear.wake_penalty(learner)
        penalty.backward()
        assert penalty.item() > 0 and all(p.grad is not None for p in actor.parameters())
        assert all(p.grad is None for p in critic.parameters())  # no value term with SAC
    finally:
        actor.load_state_dict(weights)
        actor.zero_grad(set_to_none=True)


# -------------------------------------------------------------------------------- scratch student
def split(memory: EpisodicMemory, fraction: float = 0.25) -> tuple[EpisodicMemory, dict[str, np.ndarray]]:
    """A memory with the first (1 - fraction) of each task's transitions, and the rest held out."""
    train = EpisodicMemory(memory.capacity_per_task, memory.obs_dim, memory.action_dim)
    heldout = []
    for task in memory.tasks:
        data = memory.arrays([task])
        cut = int(len(data["obs"]) * (1 - fraction))
        train.add(task, 0, data["obs"][:cut], data["action_mean"][:cut], data["action_log_std"][:cut],
                  data["reward"][:cut], data["td_error"][:cut], data["novelty"][:cut], action=data["action"][:cut])
        heldout.append({k: v[cut:] for k, v in data.items()})
    return train, {k: np.concatenate([h[k] for h in heldout]) for k in heldout[0]}


@torch.no_grad()
def heldout_nll(student: SubcorticalPolicy, heldout: dict[str, np.ndarray]) -> float:
    mean, log_std = student(torch.as_tensor(heldout["obs"]))
    return float(taken_action_loss(student, mean, log_std, torch.as_tensor(heldout["action"]), "nll").mean())


def test_scratch_student_never_calls_the_teacher_and_learns_the_taken_actions(ppo, monkeypatch):
    learner, memory = ppo
    train, heldout = split(memory)
    calls = []
    original = learner.action_distribution
    monkeypatch.setattr(learner, "action_distribution", lambda *a, **k: calls.append(1) or original(*a, **k))
    student = student_for(train, learner)
    before, teacher_before = heldout_nll(student, heldout), snapshot(learner.model.policy)
    report = ScratchStudent(updates=200, batch_size=64, learning_rate=3e-3).sleep(student, train, 1, learner, seed=0,
                                                                                  updates=200)
    assert not calls and unchanged(teacher_before, learner.model.policy)
    assert report.updates == 200 and report.replayed_tasks == [0, 1] and report.env_steps == 0
    assert heldout_nll(student, heldout) < 0.75 * before  # 3.93 -> 2.58 at seed 0
    # the cortex is not needed at all: a teacher that cannot be touched does
    ScratchStudent(updates=3, batch_size=8).sleep(student_for(train, learner), train, 1, Untouchable("teacher"), 0, 3)


def test_scratch_student_replays_the_very_batches_of_replay_distill(ppo, monkeypatch):
    learner, memory = ppo
    batches: list[torch.Tensor] = []
    original = Sleep._loss
    monkeypatch.setattr(Sleep, "_loss", lambda self, s, t, index: batches.append(index) or original(self, s, t, index))
    reports = []
    for strategy in (ReplayDistill(updates=15, batch_size=16), ScratchStudent(updates=15, batch_size=16)):
        reports.append(strategy.sleep(student_for(memory, learner), memory, 1, learner, seed=4, updates=15))
    assert [r.updates for r in reports] == [15, 15] and reports[0].replayed_tasks == reports[1].replayed_tasks
    assert all(torch.equal(a, b) for a, b in zip(batches[:15], batches[15:], strict=True))


def test_scratch_student_refuses_memories_without_actions_and_bad_losses(ppo):
    learner, memory = ppo
    old = EpisodicMemory(64, memory.obs_dim, memory.action_dim)
    data = memory.arrays([0])
    old.add(0, 0, data["obs"][:64], data["action_mean"][:64], data["action_log_std"][:64], data["reward"][:64],
            data["td_error"][:64], data["novelty"][:64])  # no action: as stored before the field existed
    with pytest.raises(ValueError, match=r"tasks \[0\] were stored without them"):
        ScratchStudent(updates=2).sleep(student_for(old, learner), old, 0, learner, seed=0, updates=2)
    with pytest.raises(ValueError, match="consolidation.loss='kl'"):
        ScratchStudent(loss="kl")
    with pytest.raises(ValueError, match="consolidation.target"):
        Sleep(target="cortex")


def test_taken_action_loss_is_the_gaussian_nll_in_the_students_own_space():
    mean, log_std = torch.tensor([[0.1, -0.3]]), torch.tensor([[-1.0, -0.5]])
    action = torch.tensor([[0.5, -1.0]])
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(action).sum(-1)
    bounded, squashing = SubcorticalPolicy(3, 2), SubcorticalPolicy(3, 2, bounded_mean=False, squash=True)
    torch.testing.assert_close(taken_action_loss(bounded, mean, log_std, action, "nll"), expected)
    squashed = torch.tensor([[math.tanh(0.2), math.tanh(-0.4)]])  # SAC: the Gaussian is pre-squash
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(torch.tensor([[0.2, -0.4]])).sum(-1)
    torch.testing.assert_close(taken_action_loss(squashing, mean, log_std, squashed, "nll"), expected)
    torch.testing.assert_close(taken_action_loss(squashing, mean, log_std, squashed, "mse"),
                               ((mean.tanh() - squashed) ** 2).sum(-1))


# ---------------------------------------------------------------------------------- awake control
@pytest.mark.parametrize("phase_updates", [None, 5])
def test_awake_control_has_the_update_budget_of_the_sleep_and_leaves_the_memory_alone(ppo, phase_updates,
                                                                                      monkeypatch):
    learner, memory = ppo
    config = {"updates": 7, "batch_size": 32, "learning_rate": 1e-3}
    expected = config["updates"] if phase_updates is None else phase_updates
    counts, reports = {}, {}
    for name, strategy, memory_seen in (("gated", Gated(**config), memory),
                                        ("awake", AwakeControl(**config, heldout_states=50), Untouchable("memory"))):
        student = student_for(memory, learner)

        def run(strategy=strategy, student=student, memory_seen=memory_seen, name=name):
            reports[name] = strategy.sleep(student, memory_seen, 1, learner, seed=0,
                                           updates=phase_updates or strategy.sleep_updates)

        counts[name] = optimizer_steps_of(student, run)
    assert counts == {"gated": expected, "awake": expected}
    assert reports["awake"].updates == reports["gated"].updates == expected

    env = learner.model.env  # every env step is counted and reported
    vec_steps = []
    monkeypatch.setattr(env, "step", lambda actions, step=env.step: vec_steps.append(1) or step(actions))
    before_memory, teacher_before = memory.arrays(), snapshot(learner.model.policy)
    report = AwakeControl(**config, heldout_states=50).sleep(student_for(memory, learner), memory, 1, learner,
                                                             seed=0, updates=expected)
    assert report.env_steps == len(vec_steps) * env.num_envs > 0
    assert expected * 32 + 50 <= report.env_steps < expected * 32 + 50 + env.num_envs  # each state used once
    assert report.replayed_tasks == [] and list(report.heldout_kl) == [1] and math.isfinite(report.heldout_kl[1])
    assert unchanged(teacher_before, learner.model.policy)
    for key, value in memory.arrays().items():
        np.testing.assert_array_equal(value, before_memory[key])


def test_awake_control_distils_fresh_states_reproducibly(ppo, sac):
    learner, memory = ppo
    short = AwakeControl(updates=1, batch_size=32, learning_rate=1e-2, heldout_states=256)
    long = AwakeControl(updates=80, batch_size=32, learning_rate=1e-2, heldout_states=256)
    first = long.sleep(student_for(memory, learner), memory, 1, learner, seed=2, updates=80)
    # the env is reseeded: the same states again, whatever the env did in between
    again = long.sleep(student_for(memory, learner), memory, 1, learner, seed=2, updates=80)
    assert first.loss_curve == again.loss_curve and first.heldout_kl == again.heldout_kl
    untrained = short.sleep(student_for(memory, learner), memory, 1, learner, seed=2, updates=1)
    assert first.heldout_kl[1] < 0.5 * untrained.heldout_kl[1]
    # SAC: actions are tanh of the pre-squash sample; the student is the squashing one
    learner, memory = sac
    report = AwakeControl(updates=3, batch_size=16, heldout_states=16).sleep(
        student_for(memory, learner), memory, 1, learner, seed=0, updates=3)
    assert report.env_steps >= 64 and math.isfinite(report.final_loss)


def test_awake_control_needs_an_attached_env(ppo):
    learner, memory = ppo
    detached = copy.copy(learner)
    detached.model = copy.copy(learner.model)
    detached.model.env = None  # as a cortex loaded from a checkpoint
    with pytest.raises(ValueError, match="needs the env of the wake phase"):
        AwakeControl(updates=1).sleep(student_for(memory, learner), memory, 1, detached, seed=0, updates=1)
    with pytest.raises(ValueError, match="consolidation.heldout_states"):
        AwakeControl(heldout_states=0)
