"""scripts/compare.py: runs strategies x seeds, reuses finished runs, tabulates over seeds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "compare.py"), *args],
                          capture_output=True, text=True, timeout=600)


def test_compare_runs_tabulates_and_reuses_finished_runs(tmp_path):
    first = _compare("--experiment", "smoke", "--strategies", "none", "gated", "--seeds", "0", "1",
                     "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr[-2000:]
    assert (tmp_path / "gated" / "seed1" / "results.json").is_file()
    lines = [line for line in first.stdout.splitlines() if line.startswith("| none") or line.startswith("| gated")]
    assert len(lines) == 2 and all("| 2 |" in line for line in lines)  # two seeds per strategy
    runs = (tmp_path / "runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 4
    again = _compare("--experiment", "smoke", "--strategies", "none", "gated", "--seeds", "0", "1",
                     "--out", str(tmp_path))
    assert again.returncode == 0 and again.stdout.count(": 0 s") == 4  # nothing recomputed


def test_unknown_strategy_is_refused_before_any_run(tmp_path):
    completed = _compare("--strategies", "none", "dreaming", "--out", str(tmp_path))
    assert completed.returncode == 2 and "dreaming" in completed.stderr and "allowed are" in completed.stderr
    assert not any(tmp_path.iterdir())
