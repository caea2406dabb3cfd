"""scripts/interference_matrix.py on hand-built saved results: the verdict and the tables."""

from __future__ import annotations

import json

import pytest

from scripts import interference_matrix as im


def result(per_seed, learner="sb3") -> dict:
    return {"family": "reach", "labels": ["A", "B"], "contexts": {"A": {"curl_field": 30.0}, "B": "curl_ccw"},
            "context_cue": False, "learner": learner, "seeds": list(range(len(per_seed))), "steps": 1000,
            "n_eval": 32, "per_seed": per_seed, "train_seconds": [1.0] * 2 * len(per_seed)}


def test_the_verdict_needs_learning_a_ceiling_and_interference_in_both_directions():
    assert im.verdict(result([[[0.95, -1.0], [-2.0, 0.97]]])) == (True, [])
    ok, notes = im.verdict(result([[[0.95, 0.6], [-2.0, 1.2]]]))
    assert not ok
    assert notes == ["seed 0: A -> B keeps 0.60 > half of 0.95",
                     "seed 0: B scores 1.20 > 1.05: the reference is no ceiling"]
    ok, notes = im.verdict(result([[[0.95, -1.0], [-2.0, 0.97]], [[0.5, -1.0], [-2.0, 0.97]]]))
    assert not ok and notes == ["seed 1: A learned only to 0.50"]


def test_the_table_describes_dict_contexts_and_says_whether_the_criterion_is_met(tmp_path, capsys):
    saved = tmp_path / "reach_sb3.json"
    saved.write_text(json.dumps(result([[[0.95, -1.0], [-2.0, 0.97]], [[0.93, -1.5], [-2.5, 0.99]]])))
    assert im.main(["--from-saved", str(saved)]) == 0
    text = capsys.readouterr().out
    assert "| A (curl_field=30) | 0.94 [0.93, 0.95] | -1.25 [-1.50, -1.00] |" in text
    assert "learner `sb3`" in text and "cue off" in text and ": met." in text


def test_bad_steps_are_refused_before_any_training(capsys):
    with pytest.raises(SystemExit):
        im.main(["--steps", "0"])
    assert "--steps=0 is not allowed" in capsys.readouterr().err
