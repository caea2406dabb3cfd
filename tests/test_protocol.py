"""Protocols: phase lists as documented, and the rows of R where each task's training ended."""

from __future__ import annotations

import numpy as np
import pytest

from consolidation.protocol import Protocol
from consolidation.results import metrics_of, performance_matrices, summarise, trained_rows


def wake(context, steps=10):
    return {"kind": "wake", "context": context, "steps": steps}


def test_a_test_follows_every_wake_and_sleep():
    protocol = Protocol([wake("A"), {"kind": "sleep"}, wake("B"), {"kind": "sleep"}, {"kind": "test"}])
    assert [p.name for p in protocol] == ["wake_A", "test", "sleep", "test", "wake_B", "test", "sleep", "test"]
    assert protocol.contexts == ["A", "B"]


def test_without_automatic_tests_only_explicit_ones_remain():
    protocol = Protocol([wake("A"), {"kind": "sleep"}, {"kind": "test"}], test_after_every_phase=False)
    assert [p.kind for p in protocol] == ["wake", "sleep", "test"]


def test_trained_rows_in_an_aba_protocol_use_the_last_wake():
    # rows: 0 wake_A, 1 sleep, 2 wake_B, 3 sleep, 4 wake_A (again), 5 sleep
    protocol = Protocol([wake("A"), {"kind": "sleep"}, wake("B"), {"kind": "sleep"}, wake("A"), {"kind": "sleep"}])
    assert trained_rows(protocol, ["A", "B"]) == {"cortical": [4, 2], "subcortical": [5, 3]}


def test_a_task_without_a_following_sleep_has_no_student_row():
    protocol = Protocol([wake("A"), {"kind": "sleep"}, wake("B")])
    assert trained_rows(protocol, ["A", "B"]) == {"cortical": [0, 2], "subcortical": [1, None]}


def test_performance_matrices_follow_rows_and_task_order():
    rows = [{"cortical": {"A": {"score": 1.0}, "B": {"score": 0.2}},
             "subcortical": {"A": {"score": 0.5}, "B": {"score": 0.1}}}]
    matrices = performance_matrices(rows, ["B", "A"])
    np.testing.assert_array_equal(matrices["cortical"], [[0.2, 1.0]])
    np.testing.assert_array_equal(matrices["subcortical"], [[0.1, 0.5]])


@pytest.mark.parametrize("phases,field", [
    ([], "protocol.phases is empty"),
    ([{"kind": "sleep"}], "phases has no wake"),
    ([{"kind": "sleep"}, wake("A")], "first phase must be wake"),
    ([wake("A", steps=0)], "phases[0].steps"),
    ([{"kind": "wake", "steps": 5}], "phases[0].context"),
    ([wake("A"), {"kind": "sleep", "context": "A"}], "unknown key"),
])
def test_bad_protocols_are_refused_with_the_field_named(phases, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Protocol(phases)


def test_average_forgetting_leaves_out_the_last_learned_context():
    # rows: after wake A, sleep, wake B, sleep; the cortex drops A from 1.0 to 0.6 while learning B
    cortex = np.array([[1.0, -1.0], [1.0, -1.0], [0.6, 0.8], [0.6, 0.8]])
    student = np.array([[0.0, 0.0], [0.9, -1.0], [0.9, -1.0], [0.85, 0.7]])
    trained = {"cortical": [0, 2], "subcortical": [1, 3]}
    summary = summarise({"cortical": cortex, "subcortical": student}, trained, ["A", "B"], 10, 100,
                        last_learned="B")
    assert summary["cortical"]["average_forgetting"] == pytest.approx(0.4)  # A only: 1.0 - 0.6
    assert summary["subcortical"]["average_forgetting"] == pytest.approx(0.05)  # 0.9 - 0.85
    assert summary["cortical"]["forgetting"] == pytest.approx([0.4, 0.0])  # B's own entry is still reported
    assert summary["cortical"]["retention"]["A"] == pytest.approx(0.6)
    assert summary["fidelity"]["A"] == pytest.approx(0.9 / 1.0)


def test_metrics_recomputed_from_a_saved_results_file_match_the_run():
    saved = {"R": {"cortical": [[1.0, -1.0], [1.0, -1.0], [0.6, 0.8], [0.6, 0.8]],
                   "subcortical": [[0.0, 0.0], [0.9, -1.0], [0.9, -1.0], [0.85, 0.7]]},
             "trained_rows": {"cortical": [0, 2], "subcortical": [1, 3]}, "tasks": ["A", "B"],
             "phases": [{"kind": "wake", "context": "A"}, {"kind": "test"}, {"kind": "sleep"}, {"kind": "test"},
                        {"kind": "wake", "context": "B"}, {"kind": "test"}, {"kind": "sleep"}, {"kind": "test"}],
             "parameters": {"subcortical": 10, "cortical_actor": 100}}
    assert metrics_of(saved)["cortical"]["average_forgetting"] == pytest.approx(0.4)
    assert metrics_of(saved)["parameter_ratio"] == pytest.approx(0.1)
