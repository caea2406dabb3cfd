"""The arbitrated controller (agents/controller.py) and the familiarity it gates by (agents/familiarity.py)."""

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

from agents.controller import ArbitratedController, ResidualController
from agents.familiarity import Familiarity
from agents.subcortical import SubcorticalPolicy
from consolidation.memory import EpisodicMemory
from runner.build import build_experiment

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["experiment=smoke", "cache.enabled=false", "consolidation=replay_distill", "controller=arbitrated"]
LOW, HIGH = -np.ones(2, np.float32), np.ones(2, np.float32)


def _states(rng: np.random.Generator, n: int, cue: float = 0.0) -> np.ndarray:
    """States of a 4-dimensional body plus a one-hot-like cue dimension that is constant in a context."""
    return np.concatenate([rng.normal(size=(n, 4)), np.full((n, 1), cue)], axis=1).astype(np.float32)


def test_nothing_is_familiar_before_a_reference_exists():
    familiarity = Familiarity()
    assert not familiarity.fitted
    np.testing.assert_array_equal(familiarity(np.ones((3, 5))), np.zeros(3))


def test_familiarity_is_one_on_a_reference_state_and_falls_with_distance():
    rng = np.random.default_rng(0)
    reference = _states(rng, 500)
    familiarity = Familiarity(reference_size=1000, width=2.0)
    familiarity.fit(reference, rng)
    assert familiarity(reference[:10]) == pytest.approx(np.ones(10), abs=1e-4)
    direction = np.array([1, 0, 0, 0, 0], np.float32)
    values = [float(familiarity(reference[0] + 40 * t * direction)) for t in (0.0, 0.05, 0.1, 0.2, 1.0)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False)) and values[0] > 0.99 > values[-1]
    assert values[-1] < 1e-6  # forty reference spreads out: not familiar at all
    # a new state drawn like the reference ones is mostly familiar
    assert np.median(familiarity(_states(rng, 200))) > 0.5


def test_a_state_whose_cue_differs_is_unfamiliar_however_close_its_body_state():
    rng = np.random.default_rng(1)
    familiarity = Familiarity()
    familiarity.fit(_states(rng, 300, cue=0.0), rng)
    body = _states(rng, 50, cue=0.0)
    other_context = body.copy()
    other_context[:, -1] = 1.0
    assert np.median(familiarity(body)) > 0.5
    assert familiarity(other_context).max() < 1e-6


def test_the_reference_is_a_seeded_subsample_of_at_most_reference_size_states():
    states = _states(np.random.default_rng(2), 1000)
    a, b = Familiarity(reference_size=64), Familiarity(reference_size=64)
    a.fit(states, np.random.default_rng(7))
    b.fit(states, np.random.default_rng(7))
    assert len(a.reference) == 64 and torch.equal(a.reference, b.reference)
    restored = Familiarity(reference_size=64)
    restored.load_state_dict(a.state_dict())
    probe = _states(np.random.default_rng(3), 20)
    np.testing.assert_array_equal(restored(probe), a(probe))


@pytest.mark.parametrize("kwargs,field", [({"reference_size": 1}, "reference_size"), ({"width": 0.0}, "width"),
                                          ({"min_std": float("nan")}, "min_std")])
def test_bad_settings_are_refused_by_name(kwargs, field):
    with pytest.raises(ValueError, match=f"controller.{field}="):
        ArbitratedController(**kwargs)


def _controllers(obs_dim: int = 5):
    torch.manual_seed(0)
    student = SubcorticalPolicy(obs_dim, 2, [8])
    arbitrated, residual = ArbitratedController(correction_scale=2.0), ResidualController(correction_scale=2.0)
    for controller in (arbitrated, residual):
        controller.start(student, LOW, HIGH)
    return arbitrated, residual


def test_before_the_first_sleep_the_arbitration_rule_is_the_residual_rule():
    arbitrated, residual = _controllers()
    rng = np.random.default_rng(4)
    obs, correction = _states(rng, 16), rng.uniform(-1, 1, (16, 2)).astype(np.float32)
    np.testing.assert_array_equal(arbitrated.compose(obs, correction), residual.compose(obs, correction))


def test_after_a_write_back_the_base_acts_alone_on_consolidated_states_and_is_corrected_elsewhere():
    """The arbitration rule: action = clip(base + scale * (1 - familiarity) * correction)."""
    arbitrated, residual = _controllers()
    rng = np.random.default_rng(5)
    memory = EpisodicMemory(capacity_per_task=400, obs_dim=5, action_dim=2, seed=0)
    seen = _states(rng, 400, cue=0.0)
    memory.add(task=0, phase=0, obs=seen, action_mean=np.zeros((400, 2)), action_log_std=np.zeros((400, 2)),
               reward=np.zeros(400), td_error=np.zeros(400), novelty=np.zeros(400))
    torch.manual_seed(1)
    student = SubcorticalPolicy(5, 2, [8])  # the sleep changed the student: it becomes the base
    learner = _TwoCortices()
    written = arbitrated.after_sleep(learner.cortex, student, memory, [0])
    residual.after_sleep(learner.cortex_copy, student, memory, [0])
    assert written["write_back"] and written["familiar_reference"] == 400
    correction = rng.uniform(-1, 1, (400, 2)).astype(np.float32)
    np.testing.assert_allclose(arbitrated.compose(seen, correction), arbitrated.command(seen), atol=1e-4)
    unseen = seen.copy()
    unseen[:, -1] = 1.0  # the other context's cue
    np.testing.assert_array_equal(arbitrated.compose(unseen, correction), residual.compose(unseen, correction))
    halfway = seen[:1] + np.array([[3.0, 0, 0, 0, 0]], np.float32)
    gate = float(arbitrated.gate(halfway)[0])
    expected = np.clip(arbitrated.command(halfway) + 2.0 * gate * correction[:1], LOW, HIGH)
    np.testing.assert_allclose(arbitrated.compose(halfway, correction[:1]), expected, rtol=1e-6)


class _TwoCortices:
    """Two real SB3 PPO cortices on the reach env: the write-back resets their action heads."""

    def __init__(self) -> None:
        from agents.cortex import CorticalLearner
        from envs.family import TaskFamily
        from envs.vector import make_vec

        family = TaskFamily(family="reach", contexts={"A": "curl_cw"})
        learners = []
        for _ in range(2):
            learner = CorticalLearner(algorithm="ppo", n_envs=1, hyperparameters={"n_steps": 64, "batch_size": 64})
            learner.build(make_vec(family, ["A"], 1, 0), seed=0)
            learners.append(learner)
        self.cortex, self.cortex_copy = learners


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("arbitrated")
    return root, build_experiment(SMOKE, run_dir=root).run()


def test_an_arbitrated_run_consolidates_its_replayed_states_and_acts_as_its_student_after_each_sleep(run):
    _, results = run
    assert results["controller"] == "arbitrated"
    sleeps = [p for p in results["phases"] if p["kind"] == "sleep"]
    assert [p["write_back"] for p in sleeps] == [True, True]
    assert 0 < sleeps[0]["familiar_reference"] < sleeps[1]["familiar_reference"]  # A, then A and B
    cortical, subcortical = (np.array(results["R"][p]) for p in ("cortical", "subcortical"))
    for i, name in enumerate(results["rows"]):
        if name == "sleep":  # the correction was reset: the behaviour is the base, the student
            np.testing.assert_array_equal(cortical[i], subcortical[i])


def test_an_arbitrated_run_killed_after_its_first_sleep_resumes_to_the_same_numbers(tmp_path, run):
    """The base, the reset cortex and the familiarity reference are restored from the checkpoint."""
    def launch(crash_at=None):
        env = {k: v for k, v in os.environ.items() if k != "MOTORSLEEP_CRASH_AT"}
        if crash_at:
            env["MOTORSLEEP_CRASH_AT"] = crash_at
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), *SMOKE, f"hydra.run.dir={tmp_path}"],
                              capture_output=True, text=True, timeout=300, env=env)

    killed = launch("3:after_checkpoint")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = launch()
    assert resumed.returncode == 0 and "resuming" in resumed.stderr, resumed.stderr[-2000:]
    assert json.loads((tmp_path / "results.json").read_text())["R"] == run[1]["R"]
