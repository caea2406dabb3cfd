"""EpisodicMemory: bounded per-task reservoirs, uniform samples, relabelling, atomic save/load."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from consolidation.memory import EpisodicMemory

OBS_DIM, ACTION_DIM = 3, 2


def batch(start: int, n: int) -> dict:
    """``n`` transitions whose every field encodes its step id ``start .. start + n - 1``."""
    ids = np.arange(start, start + n)
    column = ids.astype(np.float32)
    return {"obs": np.repeat(column[:, None], OBS_DIM, axis=1),
            "action_mean": np.repeat(column[:, None], ACTION_DIM, axis=1),
            "action_log_std": -np.ones((n, ACTION_DIM)), "reward": column, "td_error": -column,
            "novelty": column / 2, "step": ids}


def fill(memory: EpisodicMemory, task: int, total: int, batch_size: int, phase: int = 0) -> None:
    for start in range(0, total, batch_size):
        memory.add(task, phase, **batch(start, min(batch_size, total - start)))


@pytest.mark.parametrize("batch_size", [1, 37, 10_000])
def test_capacity_is_never_exceeded(batch_size):
    memory = EpisodicMemory(capacity_per_task=50, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    for start in range(0, 400, batch_size):
        memory.add(0, 0, **batch(start, min(batch_size, 400 - start)))
        assert memory.count_stored(0) == min(memory.count_seen(0), 50) <= 50
    data = memory.arrays()
    assert len(memory) == len(data["obs"]) == 50
    assert len(np.unique(data["step"])) == 50  # no item stored twice
    # every field of a slot still comes from the same transition
    np.testing.assert_array_equal(data["obs"][:, 0], data["step"])
    np.testing.assert_array_equal(data["td_error"], -data["step"])


@pytest.mark.parametrize("batch_size", [250, 10_000])
def test_reservoir_keeps_a_uniform_sample(batch_size):
    memory = EpisodicMemory(capacity_per_task=500, obs_dim=OBS_DIM, action_dim=ACTION_DIM, seed=3)
    fill(memory, 0, 10_000, batch_size)
    kept = memory.arrays()["step"]
    # 500 ids drawn without replacement from 0..9999: mean 4999.5, standard error
    # sqrt((10000**2 - 1) / 12 / 500 * 9500 / 9999) = 125.8; allow 4 standard errors.
    assert abs(kept.mean() - 4999.5) < 4 * 125.8
    # expected 50 kept among the first and among the last 1000 ids: P(none) = 0.9**500 ~ 1e-23
    assert (kept < 1000).any() and (kept >= 9000).any()


def test_every_item_is_kept_with_probability_capacity_over_seen():
    # Algorithm R's defining property, checked over 200 independent reservoirs, with batches
    # that overlap the fill phase and draw duplicate slots.
    inclusion = np.zeros(500)
    for seed in range(200):
        memory = EpisodicMemory(capacity_per_task=50, obs_dim=OBS_DIM, action_dim=ACTION_DIM,
                                seed=seed)
        fill(memory, 0, 500, batch_size=120)
        inclusion[memory.arrays()["step"]] += 1
    per_block = inclusion.reshape(10, 50).sum(axis=1)  # 50 ids x 200 runs x p = 0.1 -> 1000
    # each block's count has sd <= sqrt(10000 * 0.1 * 0.9) = 30; allow 5 sd
    assert np.all(np.abs(per_block - 1000) < 150), per_block


def test_tasks_are_independent():
    memory = EpisodicMemory(capacity_per_task=20, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(memory, 0, 100, batch_size=30)
    alone = memory.arrays([0])
    fill(memory, 4, 300, batch_size=30, phase=1)
    memory.add(0, 0, **batch(100, 0))  # an empty batch is a no-op
    assert memory.tasks == [0, 4]
    assert memory.count_seen(0) == 100 and memory.count_seen(4) == 300 and memory.count_seen(9) == 0
    for name, values in memory.arrays([0]).items():
        np.testing.assert_array_equal(values, alone[name])
    both = memory.arrays()
    assert len(both["obs"]) == len(memory) == 40
    np.testing.assert_array_equal(both["task"], [0] * 20 + [4] * 20)
    np.testing.assert_array_equal(both["phase"], [0] * 20 + [1] * 20)
    # a task's sample does not depend on other tasks' batches being interleaved with its own
    other = EpisodicMemory(capacity_per_task=20, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(other, 0, 100, batch_size=30)
    np.testing.assert_array_equal(other.arrays([0])["step"], alone["step"])


def test_relabel_changes_only_that_task():
    memory = EpisodicMemory(capacity_per_task=10, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(memory, 0, 30, batch_size=7)
    fill(memory, 1, 5, batch_size=5)
    before = memory.arrays()
    new_mean = np.arange(20, dtype=np.float32).reshape(10, 2)
    memory.relabel(0, new_mean, np.full((10, 2), -3.0))
    after = memory.arrays()
    np.testing.assert_array_equal(memory.arrays([0])["action_mean"], new_mean)
    np.testing.assert_array_equal(memory.arrays([0])["action_log_std"], -3.0)
    for name in EpisodicMemory.FIELDS:
        np.testing.assert_array_equal(after[name][10:], before[name][10:])  # task 1
        if name not in ("action_mean", "action_log_std"):
            np.testing.assert_array_equal(after[name][:10], before[name][:10])


def test_save_load_round_trip_continues_the_same_reservoir(tmp_path):
    original = EpisodicMemory(capacity_per_task=40, obs_dim=OBS_DIM, action_dim=ACTION_DIM, seed=7)
    fill(original, 0, 150, batch_size=33)
    fill(original, 2, 10, batch_size=10, phase=3)
    path = tmp_path / "memory.npz"
    original.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["memory.npz"]  # no temp file left behind
    loaded = EpisodicMemory.load(path)
    assert (loaded.capacity_per_task, loaded.obs_dim, loaded.action_dim) == (40, 3, 2)
    assert loaded.tasks == original.tasks and len(loaded) == len(original)
    assert [loaded.count_seen(t) for t in (0, 2)] == [150, 10]
    for name, values in original.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], values)
        assert loaded.arrays()[name].dtype == values.dtype
    for memory in (original, loaded):  # same RNG stream: same future replacements
        memory.add(0, 1, **batch(150, 500))
        memory.add(2, 1, **batch(10, 100))
    for name, values in original.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], values)


def test_truncated_or_corrupt_file_raises_naming_the_file(tmp_path):
    memory = EpisodicMemory(capacity_per_task=40, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(memory, 0, 100, batch_size=100)
    path = tmp_path / "memory.npz"
    memory.save(path)
    raw = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(raw[: len(raw) // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a memory" * 10)
    for bad in (truncated, garbage):
        with pytest.raises(ValueError, match=bad.name):
            EpisodicMemory.load(bad)
    with pytest.raises(FileNotFoundError):
        EpisodicMemory.load(tmp_path / "missing.npz")


def test_float32_storage():
    memory = EpisodicMemory(capacity_per_task=64, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(memory, 0, 64, batch_size=64)
    data = memory.arrays()
    assert all(data[f].dtype == np.float32 for f in ("obs", "action_mean", "reward", "novelty"))
    per_item = 4 * (OBS_DIM + 2 * ACTION_DIM + 3) + 4 + 8  # floats, phase int32, step int64
    assert memory.nbytes == 64 * per_item


def test_executed_actions_stay_with_their_transition_and_round_trip(tmp_path):
    memory = EpisodicMemory(capacity_per_task=40, obs_dim=OBS_DIM, action_dim=ACTION_DIM, seed=2)
    for start in range(0, 300, 70):  # the reservoir overflows: slots are replaced at random
        b = batch(start, min(70, 300 - start))
        memory.add(0, 0, **b, action=-b["action_mean"] / 1000)
    data = memory.arrays()
    np.testing.assert_array_equal(data["action"], -data["action_mean"] / 1000)
    np.testing.assert_array_equal(data["action"][:, 0], -data["step"].astype(np.float32) / 1000)
    per_item = 4 * (OBS_DIM + 3 * ACTION_DIM + 3) + 4 + 8  # one more float per action dim
    assert memory.nbytes == 40 * per_item
    memory.save(tmp_path / "memory.npz")
    loaded = EpisodicMemory.load(tmp_path / "memory.npz")
    np.testing.assert_array_equal(loaded.arrays()["action"], data["action"])


def test_action_is_optional_and_reads_nan_where_not_recorded(tmp_path):
    memory = EpisodicMemory(capacity_per_task=100, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(memory, 0, 30, batch_size=10)  # as callers before the field existed
    fill(memory, 1, 20, batch_size=20)
    bytes_without = memory.nbytes
    assert np.isnan(memory.arrays()["action"]).all() and memory.arrays()["action"].shape == (50, ACTION_DIM)
    memory.save(tmp_path / "old.npz")  # a file with no action field, as written before it existed
    assert np.isnan(EpisodicMemory.load(tmp_path / "old.npz").arrays()["action"]).all()
    memory.add(0, 1, **batch(30, 10), action=np.full((10, ACTION_DIM), 0.5))
    memory.add(0, 1, **batch(40, 5))  # then a batch without: NaN again
    task0 = memory.arrays([0])
    assert memory.nbytes > bytes_without  # only task 0 allocated the field
    np.testing.assert_array_equal(np.isnan(task0["action"][:, 0]), (task0["step"] < 30) | (task0["step"] >= 40))
    np.testing.assert_array_equal(task0["action"][(task0["step"] >= 30) & (task0["step"] < 40)], 0.5)
    memory.save(tmp_path / "mixed.npz")
    loaded = EpisodicMemory.load(tmp_path / "mixed.npz")
    np.testing.assert_array_equal(loaded.arrays()["action"], memory.arrays()["action"])  # NaNs compare equal here


@pytest.mark.parametrize("value, match", [(np.zeros((4, ACTION_DIM + 1)), "action has shape"),
                                          (np.full((4, ACTION_DIM), np.nan), "action holds non-finite")])
def test_bad_actions(value, match):
    memory = EpisodicMemory(capacity_per_task=10, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    with pytest.raises(ValueError, match=match):
        memory.add(0, 0, **batch(0, 4), action=value)
    assert len(memory) == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"capacity_per_task": 0}, "capacity_per_task"),
    ({"capacity_per_task": 2.5}, "capacity_per_task"),
    ({"obs_dim": 0}, "obs_dim"),
    ({"action_dim": -1}, "action_dim"),
    ({"seed": -1}, "seed"),
])
def test_bad_constructor_arguments(kwargs, match):
    arguments = {"capacity_per_task": 10, "obs_dim": OBS_DIM, "action_dim": ACTION_DIM, **kwargs}
    with pytest.raises(ValueError, match=match):
        EpisodicMemory(**arguments)


@pytest.mark.parametrize("field, value, match", [
    ("obs", np.zeros((4, OBS_DIM + 1)), "obs"),
    ("action_mean", np.zeros((4, 1)), "action_mean"),
    ("action_log_std", np.zeros((3, ACTION_DIM)), "action_log_std"),
    ("reward", np.array([0.0, np.nan, 0.0, 0.0]), "reward"),
    ("td_error", np.array([0.0, np.inf, 0.0, 0.0]), "td_error"),
    ("novelty", np.zeros((4, 1)), "novelty"),
    ("step", np.zeros(4) + 0.5, "step"),
])
def test_bad_batches(field, value, match):
    memory = EpisodicMemory(capacity_per_task=10, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    with pytest.raises(ValueError, match=match):
        memory.add(0, 0, **{**batch(0, 4), field: value})
    with pytest.raises(ValueError, match="task"):
        memory.add(-1, 0, **batch(0, 4))
    with pytest.raises(ValueError, match="phase"):
        memory.add(0, "wake", **batch(0, 4))
    assert len(memory) == 0


def test_bad_relabel_and_unknown_task():
    memory = EpisodicMemory(capacity_per_task=10, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(memory, 0, 5, batch_size=5)
    with pytest.raises(ValueError, match="action_mean"):
        memory.relabel(0, np.zeros((4, ACTION_DIM)), np.zeros((5, ACTION_DIM)))
    with pytest.raises(ValueError, match="task"):
        memory.relabel(1, np.zeros((5, ACTION_DIM)), np.zeros((5, ACTION_DIM)))
    with pytest.raises(ValueError, match="tasks"):
        memory.arrays([0, 3])


def test_adopting_a_cached_wake_gives_the_memory_living_through_it_would_give():
    plain = EpisodicMemory(capacity_per_task=40, obs_dim=OBS_DIM, action_dim=ACTION_DIM, seed=3)
    relabelled = EpisodicMemory(capacity_per_task=40, obs_dim=OBS_DIM, action_dim=ACTION_DIM, seed=3)
    for memory, relabel in ((plain, False), (relabelled, True)):
        fill(memory, 0, 30, 7, phase=0)
        fill(memory, 1, 25, 7, phase=1)
        if relabel:
            memory.relabel(0, np.full((30, ACTION_DIM), 9.0), np.full((30, ACTION_DIM), -9.0))
    lived = relabelled  # lives through wake phase 2 itself ...
    reused = copy.deepcopy(relabelled)  # ... while this one takes it from fine-tuning's run
    for memory in (plain, lived):
        for start in range(0, 50, 9):
            memory.add(0, 2, **batch(100 + start, min(9, 50 - start)))
    reused.adopt_wake(plain, 0, 2)
    for name, expected in lived.arrays().items():
        np.testing.assert_array_equal(reused.arrays()[name], expected, err_msg=name)
    assert reused.count_seen(0) == lived.count_seen(0) == 80
    # relabelled rows that wake 2 did not overwrite survive; the plain run's would differ
    kept = reused.arrays([0])["phase"] == 0
    assert kept.any() and (reused.arrays([0])["action_mean"][kept] == 9.0).all()
    # the generator continues identically
    for memory in (reused, lived):
        memory.add(0, 3, **batch(500, 30))
    np.testing.assert_array_equal(reused.arrays()["step"], lived.arrays()["step"])


def test_adopting_from_a_memory_that_does_not_continue_this_one_fails():
    here = EpisodicMemory(capacity_per_task=40, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(here, 0, 30, 7, phase=0)
    other = EpisodicMemory(capacity_per_task=40, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    fill(other, 0, 10, 7, phase=0)
    with pytest.raises(ValueError, match="does not continue"):
        here.adopt_wake(other, 0, 2)
    with pytest.raises(ValueError, match="task=1"):
        here.adopt_wake(other, 1, 2)
