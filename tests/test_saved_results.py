"""Every committed results file says what its own R matrices say: its ``metrics`` equal a
recomputation under today's definitions (scripts/recompute_metrics.py rewrites stale ones)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from recompute_metrics import recomputed, results_files, same  # noqa: E402

SAVED = results_files([ROOT / "results"])


def test_there_are_saved_results_to_check():
    assert len(SAVED) > 300  # the benchmark's 300 copies, the comparisons, the quick run


@pytest.mark.parametrize("path", SAVED, ids=lambda p: str(p.relative_to(ROOT)))
def test_saved_metrics_equal_a_recomputation_from_R(path):
    saved = json.loads(path.read_text())
    assert same(saved["metrics"], recomputed(saved))


def test_the_check_sees_a_stale_metric():
    saved = json.loads((ROOT / "results" / "quick" / "results.json").read_text())
    saved["metrics"]["cortical"]["average_forgetting"] /= 2  # the definition results/quick once had
    assert not same(saved["metrics"], recomputed(saved))


def test_the_saved_strip_run_loads_and_acts():
    """The README's strip is rebuilt from results/strip_run, whose cortex was saved under the
    policy class's earlier name (agents.cortex.BoundedMeanPolicy): it must still unpickle."""
    from runner.saved_run import SavedRun

    saved = SavedRun(ROOT / "results" / "strip_run")
    env = saved.make_env("A")
    act = saved.load_policy(saved.phase("04_wake_B"), "cortical", env.observation_space.shape[0])
    obs, _ = env.reset(seed=0)
    action = act(obs)
    assert action.shape == env.action_space.shape and env.action_space.contains(action.astype("float32"))
    env.close()
