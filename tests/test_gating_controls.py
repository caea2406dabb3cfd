"""Gating as the neuromodulation issue specifies it: normalisation within each task, each control's
invariant, importance-sampling weights, and a learning-rate mechanism that changes the step size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.subcortical import SubcorticalPolicy
from consolidation.memory import EpisodicMemory
from consolidation.neuromodulation import Neuromodulator
from consolidation.sleep import Sleep

RNG = np.random.default_rng(3)
# Two tasks whose tag scales differ tenfold: B (task 1) has the larger TD errors and novelty.
TASK = np.r_[np.zeros(300, dtype=np.int64), np.ones(300, dtype=np.int64)]
TD = np.r_[RNG.normal(size=300), 10 * RNG.normal(size=300)]
NOVELTY = np.r_[RNG.exponential(size=300), 10 * RNG.exponential(size=300)]
WIDE = {"gain_min": 1e-12, "gain_max": 1e12}  # no clipping: the means are exact


def test_per_task_normalisation_gives_each_task_mean_gain_one():
    gains = Neuromodulator(normalise="per_task", **WIDE).gains(TD, NOVELTY, TASK)
    for task in (0, 1):
        np.testing.assert_allclose(gains[TASK == task].mean(), 1.0)
    # within a task the gains are the task's own signals, normalised alone
    alone = Neuromodulator(**WIDE).gains(TD[TASK == 0], NOVELTY[TASK == 0])
    np.testing.assert_allclose(gains[TASK == 0], alone)


def test_pooled_normalisation_lets_the_larger_task_crowd_out_the_other():
    gains = Neuromodulator(normalise="pooled", **WIDE).gains(TD, NOVELTY, TASK)
    np.testing.assert_allclose(gains.mean(), 1.0)
    assert gains[TASK == 1].mean() > 5 * gains[TASK == 0].mean()


def test_shuffled_within_task_keeps_each_tasks_multiset_of_gains():
    on = Neuromodulator(mode="on").gains(TD, NOVELTY, TASK)
    shuffled = Neuromodulator(mode="shuffled_within_task", seed=4).gains(TD, NOVELTY, TASK)
    for task in (0, 1):
        rows = TASK == task
        np.testing.assert_array_equal(np.sort(shuffled[rows]), np.sort(on[rows]))
        assert not np.array_equal(shuffled[rows], on[rows])


def test_shuffled_across_tasks_mixes_the_tasks_gains():
    on = Neuromodulator(mode="on", normalise="pooled").gains(TD, NOVELTY, TASK)
    shuffled = Neuromodulator(mode="shuffled_across_tasks", normalise="pooled", seed=4).gains(TD, NOVELTY, TASK)
    np.testing.assert_array_equal(np.sort(shuffled), np.sort(on))
    assert not np.array_equal(np.sort(shuffled[TASK == 0]), np.sort(on[TASK == 0]))


def test_inverted_keeps_the_values_and_reverses_their_order():
    on = Neuromodulator(mode="on", **WIDE).gains(TD, NOVELTY, TASK)  # no ties at the clip
    inverted = Neuromodulator(mode="inverted", **WIDE).gains(TD, NOVELTY, TASK)
    for task in (0, 1):
        rows = TASK == task
        np.testing.assert_array_equal(np.sort(inverted[rows]), np.sort(on[rows]))
        assert np.corrcoef(np.argsort(np.argsort(on[rows])), np.argsort(np.argsort(inverted[rows])))[0, 1] < -0.99


def test_matched_keeps_each_tasks_mean_gain_with_no_variation():
    on = Neuromodulator(mode="on").gains(TD, NOVELTY, TASK)
    matched = Neuromodulator(mode="matched").gains(TD, NOVELTY, TASK)
    for task in (0, 1):
        rows = TASK == task
        np.testing.assert_allclose(matched[rows], on[rows].mean())
    np.testing.assert_allclose(matched, 1.0)  # each task's mean gain is 1: matched gates as off does


@pytest.mark.parametrize("normalise", ["per_task", "pooled"])
def test_clipping_keeps_each_groups_mean_gain_at_one(normalise):
    # heavy-tailed tags, as early-wake TD errors are: clipping alone took the mean gain to about half
    heavy = np.r_[RNG.pareto(1.2, size=300), 10 * RNG.pareto(0.8, size=300)]
    gains = Neuromodulator(normalise=normalise).gains(heavy, NOVELTY, TASK)
    assert gains.min() >= 0.25 and gains.max() <= 4.0
    groups = [TASK == 0, TASK == 1] if normalise == "per_task" else [np.ones(len(TASK), dtype=bool)]
    for rows in groups:
        assert gains[rows].mean() == pytest.approx(1.0, abs=1e-9)
    naive = np.clip(Neuromodulator(**WIDE).gains(heavy[TASK == 1], NOVELTY[TASK == 1]), 0.25, 4.0)
    assert naive.mean() < 0.9  # what the rule before the fix gave this task: the test can fail


def test_importance_weights_undo_the_priority_in_expectation():
    gains = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    full = Neuromodulator(importance_sampling=1.0)
    p = full.priorities(gains)
    w = full.importance_weights(p)
    np.testing.assert_allclose(p * w, np.full(5, 1 / 5))  # each memory's expected weight: uniform replay's
    np.testing.assert_allclose(p @ w, 1.0)
    half = Neuromodulator(importance_sampling=0.5).importance_weights(p)
    np.testing.assert_allclose(half / half[0], (p / p[0]) ** -0.5)
    np.testing.assert_array_equal(Neuromodulator(importance_sampling=0.0).importance_weights(p), np.ones(5))


def test_loss_weight_multiplies_in_the_gain_and_off_gives_ones():
    gains = np.array([0.5, 1.0, 2.0])
    weighting = Neuromodulator(prioritised_replay=False, loss_weight=True)
    p = weighting.priorities(gains)
    np.testing.assert_allclose(p, np.full(3, 1 / 3))
    np.testing.assert_allclose(weighting.sample_weights(gains, p), gains)
    np.testing.assert_array_equal(Neuromodulator(mode="off").sample_weights(gains, p), np.ones(3))


def test_step_scale_is_the_batch_gain_relative_to_its_expectation():
    modulator = Neuromodulator(prioritised_replay=False, step_size=True)
    assert modulator.step_scale([2.0, 4.0], expected_gain=1.5) == pytest.approx(2.0)
    assert Neuromodulator().step_scale([2.0, 4.0], expected_gain=1.5) == 1.0  # mechanism off


def test_audit_reports_per_task_histograms_and_correlations():
    modulator = Neuromodulator(acetylcholine_weight=0.0)
    gains = modulator.gains(TD, NOVELTY, TASK)
    summary = modulator.summary(gains, TD, NOVELTY, TASK)
    assert set(summary["per_task"]) == {"0", "1"}
    for task in ("0", "1"):
        entry = summary["per_task"][task]
        assert entry["n"] == 300 and sum(entry["histogram"]) == 300
        assert entry["spearman_td"] > 0.9  # the gains follow |TD error| only
    assert len(summary["histogram_edges"]) == len(summary["per_task"]["0"]["histogram"]) + 1


def _memory(n_per_task: int = 64, obs_dim: int = 3) -> EpisodicMemory:
    rng = np.random.default_rng(0)
    memory = EpisodicMemory(2 * n_per_task, obs_dim, 2, seed=0)
    for task, scale in ((0, 1.0), (1, 5.0)):
        memory.add(task, task, rng.normal(size=(n_per_task, obs_dim)), rng.normal(size=(n_per_task, 2)),
                   np.full((n_per_task, 2), -0.5), np.zeros(n_per_task), scale * rng.normal(size=n_per_task),
                   rng.exponential(size=n_per_task))
    return memory


def _step_norm(step_size: bool, gain_scale: float) -> float:
    """Parameter change of one plain-SGD sleep update with the tags multiplied by gain_scale for
    task 1 only (so the batch's gains differ from their expectation when step_size is on)."""
    torch.manual_seed(0)
    student = SubcorticalPolicy(3, 2, (8,))
    before = torch.cat([p.detach().flatten().clone() for p in student.parameters()])
    memory = _memory()
    sleep = Sleep(updates=1, batch_size=128, optimizer="sgd", learning_rate=0.1, relabel=False,
                  holdout_fraction=0.0, gating={"mode": "on" if step_size else "off", "prioritised_replay": False,
                                                "step_size": True, "normalise": "pooled", "gain_max": gain_scale})
    sleep.run(student, memory, 1, teacher=None, seed=0, updates=1)
    after = torch.cat([p.detach().flatten() for p in student.parameters()])
    return float((after - before).norm())


def test_step_size_mechanism_changes_the_optimisers_step():
    # the same batch, the same gradient: only the learning rate differs between the two updates
    plain = _step_norm(step_size=False, gain_scale=4.0)
    scaled = _step_norm(step_size=True, gain_scale=4.0)
    assert scaled != pytest.approx(plain, rel=1e-3)


def test_step_size_sets_the_learning_rate_to_base_times_the_batch_factor(monkeypatch):
    seen = []
    original = torch.optim.SGD.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", spy)
    student = SubcorticalPolicy(3, 2, (8,))
    sleep = Sleep(updates=5, batch_size=16, optimizer="sgd", learning_rate=0.1, relabel=False,
                  holdout_fraction=0.0, gating={"mode": "on", "prioritised_replay": False, "step_size": True})
    sleep.run(student, _memory(), 1, teacher=None, seed=0, updates=5)
    assert len(seen) == 5 and len(set(seen)) > 1  # the step size moves with each batch's gains
    assert all(0.1 * 0.25 <= lr <= 0.1 * 4.0 for lr in seen)


def test_recomputed_td_source_gates_by_the_teachers_current_critic():
    """A real PPO cortex's critic recomputes the dopamine-like tag; the gains then follow it."""
    from stable_baselines3.common.env_util import make_vec_env

    import envs  # noqa: F401  (registers the motorsleep/* ids)
    from agents.cortex import CorticalLearner

    learner = CorticalLearner("ppo", net_arch=[16, 16], n_envs=1, hyperparameters={"n_steps": 64, "batch_size": 64})
    learner.build(make_vec_env("motorsleep/ReachCurlCW-v0", n_envs=1, seed=0), seed=0)
    rng = np.random.default_rng(1)
    memory, n = EpisodicMemory(256, 10, 2, seed=0), 200
    for task in (0, 1):
        memory.add(task, task, rng.normal(size=(n, 10)), rng.normal(size=(n, 2)), np.full((n, 2), -0.5),
                   rng.normal(size=n), np.ones(n), np.ones(n), next_obs=rng.normal(size=(n, 10)),
                   bootstrap=rng.integers(0, 2, size=n).astype(float))
    data = memory.arrays()
    recomputed = learner.td_errors(data["obs"], data["reward"], data["next_obs"], data["bootstrap"])
    gating = {"td_source": "recomputed", "acetylcholine_weight": 0.0}
    sleep = Sleep(updates=3, batch_size=16, relabel=False, holdout_fraction=0.0, gating=gating)
    np.testing.assert_allclose(sleep._td_error(data, learner), recomputed, rtol=1e-6)
    stored = Sleep(updates=3, batch_size=16, relabel=False, holdout_fraction=0.0, gating={"td_source": "stored"})
    np.testing.assert_array_equal(stored._td_error(data, learner), data["td_error"])
    report = sleep.run(SubcorticalPolicy(10, 2, (8,)), memory, 1, teacher=learner, seed=0, updates=3)
    # the stored tags are all 1 (no order at all): only the recomputed ones can order the gains
    assert all(entry["spearman_td"] > 0.9 for entry in report.gating["per_task"].values())
    learner.model.env.close()


def test_recomputed_td_source_needs_a_critic_and_each_memorys_successor():
    sleep = Sleep(updates=2, batch_size=16, relabel=False, gating={"td_source": "recomputed"})
    with pytest.raises(ValueError, match="needs the cortex's critic"):
        sleep.run(SubcorticalPolicy(3, 2, (8,)), _memory(), 1, teacher=None, seed=0, updates=2)
    with pytest.raises(ValueError, match="stored without it"):
        sleep._td_error(_memory().arrays(), teacher=object())  # checked before the critic is ever called
