"""Protocols: phase lists as documented, and the rows of R where each task's training ended."""

from __future__ import annotations

import numpy as np
import pytest

from consolidation.protocol import Protocol
from consolidation.results import performance_matrices, trained_rows


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
