"""The wake controller (agents/controller.py): the residual rule, its write-back, and what it refuses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.controller import BaseCommandEnv, ResidualController
from agents.subcortical import SubcorticalPolicy
from envs.family import TaskFamily
from runner.build import ConfigError, build_experiment

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["experiment=smoke", "cache.enabled=false", "consolidation=replay_distill"]


def _student(seed: int, obs_dim: int, scale: float = 3.0) -> SubcorticalPolicy:
    torch.manual_seed(seed)
    student = SubcorticalPolicy(obs_dim, 2, [8])
    with torch.no_grad():
        for parameter in student.parameters():
            parameter.mul_(scale)  # commands that reach the bounds, so that clipping is exercised
    return student


def test_the_residual_env_steps_the_base_command_plus_the_correction_clipped_to_the_box():
    family = TaskFamily(family="reach", contexts={"A": "curl_cw"})
    venv = DummyVecEnv([lambda: family.make_env("A")] * 2)
    controller = ResidualController(correction_scale=2.0)
    controller.start(_student(0, venv.observation_space.shape[0]), venv.action_space.low, venv.action_space.high)
    wrapped = BaseCommandEnv(venv, controller)
    obs = wrapped.reset()
    rng = np.random.default_rng(0)
    for _ in range(5):
        correction = rng.uniform(-1, 1, size=(2, 2)).astype(np.float32)
        expected = np.clip(controller.base.act(obs) + 2.0 * correction, -1.0, 1.0)
        wrapped.step_async(correction)
        np.testing.assert_array_equal(venv.actions, expected)  # what the physics is given
        obs, *_ = wrapped.step_wait()
    assert (np.abs(expected) == 1.0).any() and (np.abs(expected) < 1.0).any()
    venv.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("controller")
    runs = {name: build_experiment([*SMOKE, f"controller={name}"], run_dir=root / name).run()
            for name in ("cortex", "residual")}
    runs["residual_dir"] = root / "residual"
    return runs


def test_after_each_sleep_the_residual_agent_acts_as_its_student_does(runs):
    """The write-back: the student becomes the base and the cortex's correction is zero, so the
    wake controller's scores after a sleep are the student's, exactly; before, they are not."""
    results = runs["residual"]
    assert results["controller"] == "residual"
    sleeps = [p for p in results["phases"] if p["kind"] == "sleep"]
    assert [p["write_back"] for p in sleeps] == [True, True]
    rows = {name: i for i, name in enumerate(results["rows"])}
    after_sleep = [i for i, name in enumerate(results["rows"]) if name == "sleep"]
    cortical, subcortical = (np.array(results["R"][p]) for p in ("cortical", "subcortical"))
    for i in after_sleep:
        np.testing.assert_array_equal(cortical[i], subcortical[i])
    assert not np.array_equal(cortical[rows["wake_B"]], subcortical[rows["wake_B"]])  # B's correction acts


def test_under_the_cortex_controller_sleep_leaves_behaviour_alone(runs):
    results = runs["cortex"]
    assert results["controller"] == "cortex"
    assert all("write_back" not in p for p in results["phases"] if p["kind"] == "sleep")
    cortical = np.array(results["R"]["cortical"])
    wake_a = results["rows"].index("wake_A")
    np.testing.assert_array_equal(cortical[wake_a], cortical[wake_a + 1])  # the sleep after A changed nothing


def _run(run_dir: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MOTORSLEEP_CRASH_AT"}
    if crash_at:
        env["MOTORSLEEP_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), *SMOKE, "controller=residual",
                           f"hydra.run.dir={run_dir}"], capture_output=True, text=True, timeout=300, env=env)


def test_a_residual_run_killed_after_its_first_sleep_resumes_to_the_same_numbers(tmp_path, runs):
    """The base and the reset cortex are restored from the sleep's checkpoint."""
    killed = _run(tmp_path, "3:after_checkpoint")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = _run(tmp_path)
    assert resumed.returncode == 0 and "resuming" in resumed.stderr, resumed.stderr[-2000:]
    assert json.loads((tmp_path / "results.json").read_text())["R"] == runs["residual"]["R"]


@pytest.mark.parametrize("overrides,words", [
    (["consolidation=awake_control"], ["consolidation='awake_control'", "controller='residual'", "replay_distill"]),
    (["consolidation=scratch_student"], ["consolidation='scratch_student'", "not allowed"]),
    (["agent=sac", "~agent.hyperparameters.n_steps", "~agent.hyperparameters.n_epochs",
      "~agent.hyperparameters.batch_size"], ["agent.algorithm='sac'", "expected agent.algorithm='ppo'"]),
])
def test_what_the_residual_controller_cannot_drive_is_refused_by_name(tmp_path, overrides, words):
    with pytest.raises(ConfigError) as caught:
        build_experiment(["experiment=smoke", "controller=residual", *overrides], run_dir=tmp_path / "x")
    for word in words:
        assert word in str(caught.value)
    assert not (tmp_path / "x").exists()


def test_a_saved_residual_run_scores_its_behaviour_as_its_test_phases_did(runs):
    """SavedRun (motorsleep evaluate) composes the saved base and the cortex's correction."""
    from runner.saved_run import SavedRun

    saved, results = SavedRun(runs["residual_dir"]), runs["residual"]
    for phase, recorded in zip(saved.phases, results["evaluations"], strict=True):
        scores = saved.evaluate("cortical", phase=phase.key)
        assert {label: s.mean_return for label, s in scores.items()} == \
            {label: cell["return"] for label, cell in recorded["cortical"].items()}, phase.key
