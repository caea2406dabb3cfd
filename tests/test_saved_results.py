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
