"""Comparing strategies over seeds: scripts/benchmark.py runs the grid (extra Hydra overrides,
finished runs reused, an interrupted one resumed) and ``scripts/report.py --mean-std``
tabulates mean ± std over seeds from the saved results (reporting/mean_std.py), rebuilding the
committed tables and the README's compare block byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _script(name: str, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MOTORSLEEP_CRASH_AT"}
    if crash_at:
        env["MOTORSLEEP_CRASH_AT"] = crash_at  # runner/faults.py: the worker SIGKILLs itself there
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], capture_output=True, text=True,
                          timeout=600, env=env)


def _rows(stdout: str, strategy: str) -> list[list[str]]:
    """The cells of the table rows of ``strategy`` printed by report.py --mean-std."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in stdout.splitlines()
            if line.startswith(f"| {strategy} |")]


def test_a_comparison_runs_resumes_reuses_and_tabulates_mean_and_std_over_seeds(tmp_path):
    runs = tmp_path / "runs"
    grid = ["--experiment", "smoke", "--families", "reach", "--strategies", "none", "gated", "--seeds", "0", "1",
            "--jobs", "1", "--out", str(runs), "--cache-dir", str(tmp_path / "cache"), "--", "eval_episodes=1"]
    # interrupted: the worker is killed after the first test of the first run (wake A sealed)
    killed = _script("benchmark.py", *grid, crash_at="1:after_checkpoint")
    assert killed.returncode == 1 and "a worker process died" in killed.stdout, killed.stderr[-2000:]
    assert not list(runs.rglob("results.json"))
    first = _script("benchmark.py", *grid)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "0 already finished, 4 to run" in first.stdout
    resumed = runs / "reach" / "none" / "seed0"
    assert "phase 0 (wake_A): resumed from the run directory" in first.stderr
    assert len(json.loads((resumed / "run.json").read_text())["resumed"]) == 1
    assert sorted(p.relative_to(runs).as_posix() for p in runs.rglob("results.json")) == [
        f"reach/{s}/seed{k}/results.json" for s in ("gated", "none") for k in (0, 1)]
    assert "- eval_episodes=1" in (resumed / ".hydra" / "overrides.yaml").read_text().splitlines()

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- compare:start -->\nold\n<!-- compare:end -->\nrest\n")
    table = _script("report.py", "--runs", str(runs), "--mean-std", "--readme", str(readme))
    assert table.returncode == 0, table.stderr[-3000:]
    (none,), (gated,) = _rows(table.stdout, "none"), _rows(table.stdout, "gated")
    assert none[1] == gated[1] == "2"  # two seeds per strategy
    header = next(line for line in table.stdout.splitlines() if line.startswith("| strategy"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    for name, cell_none, cell_gated in zip(columns, none, gated, strict=True):
        if "student" in name or name == "fidelity A":  # none never trains its student: n/a, not numbers
            assert cell_none == "n/a", (name, cell_none)
        elif name not in ("strategy", "seeds"):
            assert " ± " in cell_none and " ± " in cell_gated, name
    # gated's sleep trained its student (retention of A may be undefined at this budget: A not learned)
    assert all(" ± " in gated[columns.index(name)] for name in ("avg perf (student)", "fidelity A"))
    # the wakes are shared: the cortex columns of none and gated agree, seed by seed
    assert none[columns.index("A lost (cortex)")] == gated[columns.index("A lost (cortex)")]
    assert (runs / "table.md").read_text() == table.stdout
    per_run = (runs / "runs.csv").read_text().splitlines()
    assert per_run[0].startswith("family,strategy,seed,avg perf (cortex),") and len(per_run) == 1 + 4
    assert readme.read_text().startswith("intro\n<!-- compare:start -->\nexperiment `smoke`, mean ± std over seeds; "
                                         "bounded scores")
    assert "\n\n| strategy | seeds |" in readme.read_text()

    again = _script("benchmark.py", *grid)
    assert again.returncode == 0 and "4 already finished, 0 to run" in again.stdout  # nothing recomputed


@pytest.mark.parametrize("folder, readme", [("compare_reach", True), ("compare_reach_sleep8000", False)])
def test_the_committed_comparisons_rebuild_byte_for_byte(tmp_path, folder, readme):
    saved, out = ROOT / "results" / folder, tmp_path / folder
    args = ["--runs", str(saved), "--mean-std", "--out", str(out)]
    if readme:
        shutil.copy(README, tmp_path / "README.md")
        args += ["--experiment", "quick", "--readme", str(tmp_path / "README.md")]
    completed = _script("report.py", *args)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (out / "table.md").read_bytes() == (saved / "table.md").read_bytes()
    assert (out / "runs.csv").read_bytes() == (saved / "runs.csv").read_bytes()
    if readme:
        assert (tmp_path / "README.md").read_bytes() == README.read_bytes()


def test_runs_of_several_families_get_a_table_each(tmp_path):
    for family in ("balance", "reach"):
        for path in (ROOT / "results" / "compare_reach_sleep8000" / "gated").glob("seed*/results.json"):
            target = tmp_path / "runs" / family / "gated" / path.parent.name / "results.json"
            target.parent.mkdir(parents=True)
            shutil.copy(path, target)
    completed = _script("report.py", "--runs", str(tmp_path / "runs"), "--mean-std")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.index("**balance**") < completed.stdout.index("**reach**")
    assert len(_rows(completed.stdout, "gated")) == 2


def test_mean_std_refuses_what_it_would_get_wrong(tmp_path):
    saved = str(ROOT / "results" / "compare_reach_sleep8000")
    (tmp_path / "README.md").write_text("<!-- compare:start -->\n<!-- compare:end -->\n")
    unnamed = _script("report.py", "--runs", saved, "--mean-std", "--out", str(tmp_path),
                      "--readme", str(tmp_path / "README.md"))
    assert unnamed.returncode == 2 and "pass --experiment" in unnamed.stderr
    (tmp_path / "runs.csv").write_text("family,strategy,seed,slept,policy,metric,value\n")  # the report's
    clobber = _script("report.py", "--runs", saved, "--mean-std", "--out", str(tmp_path))
    assert clobber.returncode == 2 and "give another --out" in clobber.stderr
    mixed = _script("report.py", "--runs", saved, "--mean-std", "--timing", str(tmp_path / "t.json"))
    assert mixed.returncode == 2 and "--timing" in mixed.stderr


def test_unknown_strategy_is_refused_before_any_run(tmp_path):
    completed = _script("benchmark.py", "--strategies", "none", "dreaming", "--out", str(tmp_path))
    assert completed.returncode == 2 and "dreaming" in completed.stderr and "not allowed" in completed.stderr
    assert not any(tmp_path.iterdir())
