"""The strategy registry and its hook contract, checked for every registered strategy."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from stable_baselines3.common.env_util import make_vec_env

from agents.cortex import CorticalLearner
from agents.subcortical import SubcorticalPolicy
from consolidation.memory import EpisodicMemory
from consolidation.strategies import STRATEGIES
from consolidation.tagging import MemoryTaggingCallback
from envs.family import TaskFamily
from runner.schema import register

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "consolidation"
register()


def config_options() -> dict[str, str]:
    """consolidation option -> the class it instantiates."""
    return {p.stem: yaml.safe_load(p.read_text())["_target_"] for p in sorted(CONFIGS.glob("*.yaml"))}


def strategy_from_config(option: str):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=smoke", f"consolidation={option}"])
    return instantiate(cfg.consolidation, _convert_="all")


def test_every_registered_strategy_has_a_config_option_and_every_option_a_registered_class():
    targets = set(config_options().values())
    for name, cls in STRATEGIES.items():
        assert f"{cls.__module__}.{cls.__qualname__}" in targets, f"strategy {name!r} has no config option"
        assert (CONFIGS / f"{name}.yaml").is_file(), f"no configs/consolidation/{name}.yaml"
    registered = {f"{c.__module__}.{c.__qualname__}" for c in STRATEGIES.values()}
    assert targets <= registered, f"options instantiating unregistered classes: {targets - registered}"


@pytest.fixture(scope="module")
def trained():
    """A tiny cortex trained on A then B, with tagged memories of both."""
    family = TaskFamily("reach", {"A": "curl_cw", "B": "curl_ccw"}, context_cue=True)
    venv = make_vec_env(family.env_id, n_envs=2, seed=0, env_kwargs=family.env_kwargs_for("A"))
    learner = CorticalLearner("ppo", [16, 16], n_envs=2, hyperparameters={"n_steps": 64, "batch_size": 64,
                                                                          "n_epochs": 1})
    learner.build(venv, 0)
    memory = EpisodicMemory(256, venv.observation_space.shape[0], venv.action_space.shape[0], seed=0)
    learner.learn(128, callback=MemoryTaggingCallback(memory, task=0, phase=0))
    learner.set_env(make_vec_env(family.env_id, n_envs=2, seed=1, env_kwargs=family.env_kwargs_for("B")))
    learner.learn(128, callback=MemoryTaggingCallback(memory, task=1, phase=2))
    return learner, memory, venv.observation_space.shape[0], venv.action_space.shape[0]


def snapshot(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, module.parameters(), strict=True))


def memory_copy(memory: EpisodicMemory) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in memory.arrays().items()}


@pytest.mark.parametrize("option", sorted(config_options()))
def test_hooks_change_only_what_they_may(option, trained):
    learner, memory, obs_dim, action_dim = trained
    strategy = strategy_from_config(option)
    student = SubcorticalPolicy(obs_dim, action_dim, [8, 8])
    contexts = strategy.wake_contexts("B", ["A", "B"])
    assert "B" in contexts and set(contexts) <= {"A", "B"}

    # on_wake_start may change the learner, not the memory or the student
    before_memory, before_student = memory_copy(memory), snapshot(student)
    strategy.on_wake_start(learner, memory, 1)
    assert all(np.array_equal(before_memory[k], v) for k, v in memory.arrays().items())
    assert same(before_student, student)

    # wake_penalty and on_wake_end change neither the learner, nor the memory, nor the student
    before_learner = snapshot(learner.model.policy)
    penalty = strategy.wake_penalty(learner)
    assert penalty is None or (penalty.dim() == 0 and torch.isfinite(penalty))
    strategy.on_wake_end(learner, memory, 1)
    assert same(before_learner, learner.model.policy)
    assert all(np.array_equal(before_memory[k], v) for k, v in memory.arrays().items())
    assert same(before_student, student)

    # sleep never touches the cortex; in the memory only task 1's cortical targets may change
    report = strategy.sleep(student, memory, 1, learner, seed=0, updates=5)
    assert same(before_learner, learner.model.policy)
    after = memory.arrays()
    for key, value in after.items():
        if key in ("action_mean", "action_log_std"):
            task0 = after["task"] == 0
            assert np.array_equal(before_memory[key][task0], value[task0])
        else:
            assert np.array_equal(before_memory[key], value), key
    if report is None:
        assert same(before_student, student)
    elif not strategy.takes_env_steps:
        assert report.env_steps == 0

    # its state survives a weights-only round trip
    buffer = io.BytesIO()
    torch.save(strategy.state_dict(), buffer)
    buffer.seek(0)
    strategy.load_state_dict(torch.load(buffer, weights_only=True))


@pytest.mark.parametrize("option", sorted(config_options()))
def test_every_strategy_runs_the_smoke_protocol(option, tmp_path):
    completed = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke",
                                f"consolidation={option}", f"hydra.run.dir={tmp_path}"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    sleeps = [p for p in results["phases"] if p["kind"] == "sleep"]
    takes_env_steps = STRATEGIES[next(n for n, c in STRATEGIES.items() if f"{c.__module__}.{c.__qualname__}"
                                      == config_options()[option])].takes_env_steps
    assert sleeps and all(p["env_steps"] == 0 for p in sleeps) or takes_env_steps
    assert np.isfinite(np.array(results["R"]["cortical"])).all()


WAKE_HOOKS = ("wake_contexts", "on_wake_start", "wake_penalty", "wake_callbacks", "on_wake_end", "plain_wake")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_strategy_that_shares_its_wakes_keeps_every_wake_hook_a_no_op(name):
    """The phase cache reuses one wake for every ``shares_wake`` strategy: true only if none of
    them acts in wake (a strategy that overrides a wake hook must not claim it)."""
    from consolidation.strategies.base import Strategy

    cls = STRATEGIES[name]
    overridden = [hook for hook in WAKE_HOOKS if getattr(cls, hook) is not getattr(Strategy, hook)]
    if cls.shares_wake:
        assert not overridden, f"{name} claims shares_wake but overrides {overridden}"
    else:
        assert overridden, f"{name} keeps every wake hook a no-op: it should share its wakes"


def test_fine_tuning_the_sleep_variants_and_the_sleep_ablations_share_their_wakes():
    sharing = {name for name, cls in STRATEGIES.items() if cls.shares_wake}
    assert sharing == {"none", "distill", "replay_distill", "gated", "gated_shuffled", "full",
                       "scratch_student", "awake_control"}


PLAIN_FIRST_WAKE = {"none", "distill", "replay_distill", "gated", "gated_shuffled", "full", "scratch_student",
                    "awake_control", "l2", "ewc", "online_ewc", "mas", "clear", "progress_compress"}


@pytest.mark.parametrize("option", sorted(config_options()))
def test_a_wake_a_strategy_calls_plain_is_plain_fine_tuning(option, trained):
    """``plain_wake``: the phase cache then trains that wake once for every strategy, so the
    strategy must not mix contexts, change the cortex or add a penalty in it. A baseline is
    plain until its first task's wake ends (nothing to protect yet), then no longer."""
    learner, memory, _, _ = trained
    strategy = strategy_from_config(option)
    assert strategy.plain_wake(0) == (option in PLAIN_FIRST_WAKE)
    if strategy.plain_wake(0):
        assert strategy.wake_contexts("A", ["A", "B"]) == ["A"]
        before = snapshot(learner.model.policy)
        strategy.on_wake_start(learner, memory, 0)
        assert same(before, learner.model.policy)
        assert strategy.wake_penalty(learner) is None
    strategy.on_wake_end(learner, memory, 0)
    assert strategy.plain_wake(1) == strategy.shares_wake
