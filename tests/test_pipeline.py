"""The wake -> sleep -> test pipeline end to end, through the real entry point, at tiny budgets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the ids)
from agents.cortex import CorticalLearner
from agents.guards import DivergenceError
from agents.subcortical import SubcorticalPolicy
from consolidation.memory import EpisodicMemory
from consolidation.sleep import Sleep
from consolidation.tagging import MemoryTaggingCallback
from envs.family import TaskFamily
from envs.reach import ReachEnv

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    """One smoke run of scripts/run.py in a subprocess, as a user would start it."""
    run_dir = tmp_path_factory.mktemp("smoke")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", "seed=3", f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path_factory.mktemp("elsewhere"),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| A lost (learned - at the end) |" in completed.stdout  # the result table is printed
    return run_dir


def test_smoke_run_writes_a_complete_run_directory(smoke_run: Path):
    for name in ("results.json", "run.json", ".hydra/config.yaml", "logs/progress.csv"):
        assert (smoke_run / name).is_file(), name
    phases = sorted(p.name for p in (smoke_run / "phases").iterdir())
    assert phases == ["00_wake_A", "01_test", "02_sleep", "03_test", "04_wake_B", "05_test", "06_sleep", "07_test"]
    for phase in phases:  # every phase is sealed; wake and sleep keep the models and the memory
        assert (smoke_run / "phases" / phase / "phase.json").is_file(), phase
        names = ("cortical.zip", "subcortical.pt", "memory.npz") if not phase.endswith("test") else ()
        for name in names:
            assert (smoke_run / "phases" / phase / name).is_file(), (phase, name)
    run = json.loads((smoke_run / "run.json").read_text())
    assert run["seed"] == 3 and run["packages"]["torch"] and "commit" in run["git"] and run["torch_threads"] == 1


def test_smoke_results_have_both_R_matrices_and_metrics(smoke_run: Path):
    results = json.loads((smoke_run / "results.json").read_text())
    assert results["tasks"] == ["A", "B"]
    assert results["rows"] == ["wake_A", "sleep", "wake_B", "sleep"]
    for policy in ("cortical", "subcortical"):
        R = np.array(results["R"][policy])
        assert R.shape == (4, 2) and np.isfinite(R).all()
        assert set(results["metrics"][policy]) >= {"average_performance", "average_forgetting", "retention"}
    assert results["trained_rows"] == {"cortical": [0, 2], "subcortical": [1, 3]}
    assert 0 < results["metrics"]["parameter_ratio"] < 0.1
    sleeps = [p for p in results["phases"] if p["kind"] == "sleep"]
    assert [p["env_steps"] for p in sleeps] == [0, 0]
    assert sleeps[1]["replayed_tasks"] == ["A", "B"]  # interleaved replay of the earlier task


def _tiny_learner_with_memory(seed: int = 0):
    family = TaskFamily("reach", {"A": "curl_cw", "B": "curl_ccw"}, context_cue=True)
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(family.env_id, n_envs=2, seed=seed, env_kwargs=family.env_kwargs_for("A"))
    learner = CorticalLearner("ppo", [16, 16], n_envs=2,
                              hyperparameters={"n_steps": 64, "batch_size": 64, "n_epochs": 1})
    learner.build(venv, seed)
    memory = EpisodicMemory(256, venv.observation_space.shape[0], venv.action_space.shape[0], seed=seed)
    learner.learn(256, callback=MemoryTaggingCallback(memory, task=0, phase=0))
    return learner, memory, venv


def test_sleep_changes_the_student_not_the_teacher_and_takes_no_env_step(monkeypatch):
    learner, memory, venv = _tiny_learner_with_memory()
    student = SubcorticalPolicy(venv.observation_space.shape[0], venv.action_space.shape[0], [8, 8])
    teacher_before = [p.detach().clone() for p in learner.model.policy.parameters()]
    student_before = [p.detach().clone() for p in student.parameters()]
    steps_before = learner.model.num_timesteps
    # count every step and reset of every reach env (the real method, wrapped with a counter)
    calls = {"step": 0, "reset": 0}
    for name in calls:
        original = getattr(ReachEnv, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(ReachEnv, name, counted)
    venv.step(np.zeros((2, 2), dtype=np.float32))  # the counter works: one vec step = 2 env steps
    assert calls["step"] == 2
    calls["step"] = 0
    report = Sleep(batch_size=32).run(student, memory, 0, learner, seed=0, updates=30)
    assert calls == {"step": 0, "reset": 0}
    assert learner.model.num_timesteps == steps_before
    assert report.env_steps == 0
    assert all(torch.equal(a, b) for a, b in zip(teacher_before, learner.model.policy.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(student_before, student.parameters(), strict=True))


def test_sleep_distillation_reduces_heldout_kl():
    learner, memory, venv = _tiny_learner_with_memory()
    student = SubcorticalPolicy(venv.observation_space.shape[0], venv.action_space.shape[0], [16, 16])
    short = Sleep(batch_size=64, holdout_fraction=0.2).run(
        SubcorticalPolicy(venv.observation_space.shape[0], venv.action_space.shape[0], [16, 16]),
        memory, 0, learner, seed=0, updates=1)
    long = Sleep(batch_size=64, holdout_fraction=0.2).run(student, memory, 0, learner, seed=0, updates=300)
    assert long.heldout_kl[0] < 0.5 * short.heldout_kl[0]


def test_huge_sleep_learning_rate_stops_with_a_divergence_error():
    learner, memory, venv = _tiny_learner_with_memory()
    student = SubcorticalPolicy(venv.observation_space.shape[0], venv.action_space.shape[0], [8, 8])
    with pytest.raises(DivergenceError, match="sleep diverged at update"):
        Sleep(batch_size=32, learning_rate=1e6, max_loss=1e3).run(student, memory, 0, learner, seed=0, updates=200)


def test_subcortical_policy_saves_and_loads_without_pickle(tmp_path):
    student = SubcorticalPolicy(6, 2, [8, 8])
    student.save(tmp_path / "s.pt")
    loaded = SubcorticalPolicy.load(tmp_path / "s.pt")
    obs = np.linspace(-1, 1, 6)
    assert np.array_equal(student.act(obs), loaded.act(obs))
    (tmp_path / "bad.pt").write_bytes((tmp_path / "s.pt").read_bytes()[:50])
    with pytest.raises(ValueError, match="bad.pt"):
        SubcorticalPolicy.load(tmp_path / "bad.pt")


def _entry(run_dir, *overrides):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke",
                           f"hydra.run.dir={run_dir}", *overrides], capture_output=True, text=True, timeout=300)


def test_wake_divergence_stops_the_phase_with_a_clear_error(tmp_path):
    completed = _entry(tmp_path, "agent.hyperparameters.learning_rate=1e12")
    assert completed.returncode == 3, completed.stderr[-2000:]
    assert "phase 0 (wake_A) diverged at step" in completed.stderr
    assert not (tmp_path / "phases" / "00_wake_A" / "phase.json").exists()


def test_sleep_divergence_keeps_earlier_phases_and_resumes_after_the_fix(tmp_path):
    broken = _entry(tmp_path, "consolidation.learning_rate=1e9", "consolidation.max_loss=1e3")
    assert broken.returncode == 3, broken.stderr[-2000:]
    assert "sleep diverged at update" in broken.stderr
    assert (tmp_path / "phases" / "00_wake_A" / "phase.json").is_file()  # wake A is kept
    assert not (tmp_path / "phases" / "02_sleep" / "phase.json").exists()
    refused = _entry(tmp_path)  # the fixed config is another config: refused unless accepted
    assert refused.returncode == 2 and "consolidation.learning_rate: 1000000000.0" in refused.stderr
    fixed = _entry(tmp_path, "resume=accept")
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert "resuming" in fixed.stderr and (tmp_path / "results.json").is_file()


def test_sac_cortex_runs_the_smoke_protocol(tmp_path):
    completed = _entry(tmp_path, "agent=sac", "agent.net_arch=[64,64]", "agent.hyperparameters.learning_starts=64",
                       "agent.hyperparameters.batch_size=64", "~agent.hyperparameters.n_steps",
                       "~agent.hyperparameters.n_epochs")
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert np.isfinite(np.array(results["R"]["subcortical"])).all()
    student = SubcorticalPolicy.load(tmp_path / "phases" / "06_sleep" / "subcortical.pt")
    assert student.squash and not student.bounded_mean  # acts with tanh, as SAC does
