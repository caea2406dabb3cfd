"""SharedEpisodicMemory: one store for all tasks that new experience overwrites (a trace that fades)."""

from __future__ import annotations

import numpy as np
import pytest

from consolidation.fading_memory import MEMORIES, SharedEpisodicMemory, load_memory
from consolidation.memory import EpisodicMemory
from tests.test_memory import ACTION_DIM, OBS_DIM, batch


def shared(capacity: int, overwrite: str = "fifo", seed: int = 0) -> SharedEpisodicMemory:
    return SharedEpisodicMemory(capacity, OBS_DIM, ACTION_DIM, seed=seed, overwrite=overwrite)


def stream(memory, task: int, start: int, n: int, batch_size: int = 7, phase: int = 0) -> None:
    for first in range(start, start + n, batch_size):
        memory.add(task, phase, **batch(first, min(batch_size, start + n - first)))


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_fifo_overwrites_the_oldest_rows_in_order(batch_size):
    memory = shared(10)
    stream(memory, 0, 0, 8, batch_size)      # A: steps 0..7
    stream(memory, 1, 100, 6, batch_size)    # B: steps 100..105 overwrite A's 4 oldest
    assert len(memory) == 10 and memory.tasks == [0, 1]
    np.testing.assert_array_equal(memory.arrays([0])["step"], [4, 5, 6, 7])
    # slot order: B wrapped round, its 2 first rows in the last slots, its 4 last in A's first
    np.testing.assert_array_equal(memory.arrays([1])["step"], [102, 103, 104, 105, 100, 101])
    assert (memory.count_seen(0), memory.count_stored(0)) == (8, 4)
    # every field of a row still comes from the same transition
    data = memory.arrays()
    np.testing.assert_array_equal(data["obs"][:, 0], data["step"])


def test_a_task_not_consolidated_before_the_next_fills_the_store_is_lost():
    memory = shared(50)
    stream(memory, 0, 0, 50)
    stream(memory, 1, 1000, 50)
    assert memory.tasks == [1]
    assert memory.count_seen(0) == 50 and memory.count_stored(0) == 0
    with pytest.raises(ValueError, match="tasks still held are \\[1\\]"):
        memory.arrays([0])
    # the per-task reservoir, the upper bound, keeps it
    kept = EpisodicMemory(50, OBS_DIM, ACTION_DIM)
    stream(kept, 0, 0, 50)
    stream(kept, 1, 1000, 50)
    assert kept.tasks == [0, 1] and kept.count_stored(0) == 50


def test_reservoir_over_all_tasks_fades_a_task_in_proportion_to_what_came_after():
    memory = shared(400, overwrite="reservoir", seed=3)
    stream(memory, 0, 0, 2000, batch_size=64)
    stream(memory, 1, 10_000, 2000, batch_size=64)
    share = memory.count_stored(0) / len(memory)
    assert len(memory) == 400
    assert 0.4 < share < 0.6  # a uniform sample of a stream that was half A (std about 0.025)
    assert memory.count_stored(0) + memory.count_stored(1) == 400
    stream(memory, 1, 20_000, 4000, batch_size=64)  # twice as much B again: A is a sixth of the stream
    assert 0.08 < memory.count_stored(0) / len(memory) < 0.26


def test_relabel_writes_the_rows_of_one_task_in_arrays_order():
    memory = shared(12)
    stream(memory, 0, 0, 8)
    stream(memory, 1, 100, 8)  # overwrites A's 4 oldest, interleaving the tasks' slots
    rows = memory.arrays([0])
    memory.relabel(0, rows["action_mean"] + 1000, rows["action_log_std"] * 0)
    after = memory.arrays()
    is_a = after["task"] == 0
    np.testing.assert_array_equal(after["action_mean"][is_a], rows["action_mean"] + 1000)
    np.testing.assert_array_equal(after["action_mean"][~is_a][:, 0], after["step"][~is_a])
    with pytest.raises(ValueError, match="shape"):
        memory.relabel(0, rows["action_mean"][:-1], rows["action_log_std"][:-1])


@pytest.mark.parametrize("overwrite", ["fifo", "reservoir"])
def test_a_saved_memory_continues_the_same_sequence(tmp_path, overwrite):
    whole, part = shared(30, overwrite, seed=5), shared(30, overwrite, seed=5)
    for memory in (whole, part):
        stream(memory, 0, 0, 40, batch_size=9)
    part.save(tmp_path / "m.npz")
    loaded = load_memory(tmp_path / "m.npz")
    assert isinstance(loaded, SharedEpisodicMemory) and loaded.overwrite == overwrite
    for memory in (whole, loaded):
        stream(memory, 1, 500, 25, batch_size=9, phase=2)
    a, b = whole.arrays(), loaded.arrays()
    for name in SharedEpisodicMemory.FIELDS:
        np.testing.assert_array_equal(a[name], b[name])
    assert [loaded.count_seen(t) for t in (0, 1)] == [40, 25]


def test_load_memory_reads_either_kind_and_refuses_a_damaged_file(tmp_path):
    per_task = EpisodicMemory(5, OBS_DIM, ACTION_DIM)
    stream(per_task, 0, 0, 3)
    per_task.save(tmp_path / "p.npz")
    assert type(load_memory(tmp_path / "p.npz")) is EpisodicMemory
    memory = shared(5)
    stream(memory, 0, 0, 3)
    memory.save(tmp_path / "s.npz")
    (tmp_path / "bad.npz").write_bytes((tmp_path / "s.npz").read_bytes()[:200])
    with pytest.raises(ValueError, match="not a valid"):
        load_memory(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="not a valid"):  # a shared file is not a per-task one
        EpisodicMemory.load(tmp_path / "s.npz")
    assert sorted(MEMORIES) == ["per_task", "shared"]


def test_adopting_a_cached_wake_takes_its_rows_and_keeps_this_runs_relabelled_ones():
    """As the phase cache does: run 1 computed wake B; run 2 (same history, but its sleep
    relabelled A) takes the wake over and must end as if it had run the wake itself."""
    runs = [shared(20), shared(20), shared(20)]
    for memory in runs:
        stream(memory, 0, 0, 16, phase=0)
    for memory in runs[1:]:  # run 2's sleep relabels A; the reference run 3 does the same
        rows = memory.arrays([0])
        memory.relabel(0, rows["action_mean"] - 7, rows["action_log_std"])
    stream(runs[0], 1, 100, 9, phase=2)          # the cached wake, computed by run 1
    runs[1].adopt_wake(runs[0], task=1, phase=2)  # run 2 takes it over
    stream(runs[2], 1, 100, 9, phase=2)          # run 3 computes it itself
    mine, reference = runs[1].arrays(), runs[2].arrays()
    for name in SharedEpisodicMemory.FIELDS:
        np.testing.assert_array_equal(mine[name], reference[name])
    assert runs[1].count_seen(1) == 9
    stream(runs[1], 1, 200, 5, phase=3)  # and both continue alike (counters and generator taken)
    stream(runs[2], 1, 200, 5, phase=3)
    np.testing.assert_array_equal(runs[1].arrays()["step"], runs[2].arrays()["step"])
    with pytest.raises(ValueError, match="does not continue"):
        shared(20).adopt_wake(runs[0], task=1, phase=2)


@pytest.mark.parametrize("bad,words", [
    ({"capacity": 0}, ["capacity", ">= 1"]),
    ({"overwrite": "lifo"}, ["memory.overwrite", "lifo", "fifo", "reservoir"]),
])
def test_bad_settings_name_the_field(bad, words):
    with pytest.raises(ValueError) as caught:
        SharedEpisodicMemory(**{"capacity": 10, "obs_dim": 3, "action_dim": 2, **bad})
    for word in words:
        assert word in str(caught.value)


def test_in_a_run_the_faded_task_is_no_longer_replayed(tmp_path):
    """End to end (real PPO, real sleep): with a shared store smaller than B's wake, the sleep
    after B replays only B; the per-task memory, the upper bound, still replays A beside it."""
    from runner.build import build_experiment

    replayed = {}
    for option in ("per_task", "shared"):
        overrides = ["experiment=smoke", "cache.enabled=false", f"memory={option}", "consolidation=replay_distill",
                     *(["memory.capacity=200"] if option == "shared" else [])]
        results = build_experiment(overrides, run_dir=tmp_path / option).run()
        replayed[option] = [phase["replayed_tasks"] for phase in results["phases"] if phase["kind"] == "sleep"]
    assert replayed == {"per_task": [["A"], ["A", "B"]], "shared": [["A"], ["B"]]}
