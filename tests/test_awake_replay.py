"""The matched awake control of replay: the same memories and the same number of student updates
as the sleeps it replaces, done online during wake (consolidation/strategies/awake_replay.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from consolidation.fading_memory import load_memory
from consolidation.protocol import Protocol
from runner.build import build_experiment


def test_the_updates_a_wake_must_match_are_those_of_the_sleeps_before_the_next_wake():
    protocol = Protocol([{"kind": "wake", "context": "A", "steps": 10}, {"kind": "sleep", "updates": 7},
                         {"kind": "sleep", "updates": 5}, {"kind": "wake", "context": "B", "steps": 10},
                         {"kind": "wake", "context": "A", "steps": 10}, {"kind": "sleep"}], test_after_every_phase=True)
    protocol = protocol.with_sleep_updates(3)
    wakes = [i for i, p in enumerate(protocol.phases) if p.kind == "wake"]
    assert [protocol.sleep_updates_after(i) for i in wakes] == [12, 0, 3]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The smoke protocol (A, sleep, B, sleep; 20 updates a night) under replay in sleep and
    under the awake control, same seed."""
    root = tmp_path_factory.mktemp("awake_replay")
    out = {}
    for option in ("replay_distill", "awake_replay"):
        run_dir = root / option
        out[option] = (build_experiment(["experiment=smoke", "cache.enabled=false", f"consolidation={option}"],
                                         run_dir=run_dir).run(), run_dir)
    return out


def test_the_awake_control_does_the_sleeps_updates_in_wake_on_the_same_tasks(pair):
    sleep_results, awake_results = pair["replay_distill"][0], pair["awake_replay"][0]
    sleeps = [p for p in sleep_results["phases"] if p["kind"] == "sleep"]
    wakes = [p for p in awake_results["phases"] if p["kind"] == "wake"]
    assert [w["online"][0]["student_updates"] for w in wakes] == [s["updates"] for s in sleeps] == [20, 20]
    assert [w["online"][0]["replayed_tasks"] for w in wakes] == [[0], [0, 1]]
    assert [s["replayed_tasks"] for s in sleeps] == [["A"], ["A", "B"]]
    assert all(p["updates"] == 0 for p in awake_results["phases"] if p["kind"] == "sleep")


def test_the_awake_control_leaves_the_cortex_and_the_memories_as_sleep_does(pair):
    """The student never acts, so the cortex learns exactly as under sleep; each sleep slot
    refreshes the trace as sleep does: the memories are the very same."""
    (sleep_results, sleep_dir), (awake_results, awake_dir) = pair["replay_distill"], pair["awake_replay"]
    assert sleep_results["R"]["cortical"] == awake_results["R"]["cortical"]
    last = sorted((sleep_dir / "phases").glob("*_sleep"))[-1].name
    mine = load_memory(awake_dir / "phases" / last / "memory.npz")
    theirs = load_memory(sleep_dir / "phases" / last / "memory.npz")
    for name, values in mine.arrays().items():
        np.testing.assert_array_equal(values, theirs.arrays()[name], err_msg=name)
    assert sleep_results["R"]["subcortical"] != awake_results["R"]["subcortical"]  # the students differ


def test_the_awake_controls_student_changes_in_wake_not_in_sleep(pair):
    _, run_dir = pair["awake_replay"]
    phases = sorted((run_dir / "phases").iterdir())
    students = {p.name: torch.load(p / "subcortical.pt", weights_only=True)["state_dict"]
                for p in phases if (p / "subcortical.pt").is_file()}
    names = list(students)
    assert [n.split("_", 1)[1] for n in names] == ["wake_A", "sleep", "wake_B", "sleep"]
    changed = [any(not torch.equal(a, b) for a, b in zip(students[x].values(), students[y].values(), strict=True))
               for x, y in zip(names[:-1], names[1:], strict=True)]
    assert changed == [False, True, False]  # wake_A -> sleep: no; sleep -> wake_B: yes; wake_B -> sleep: no
