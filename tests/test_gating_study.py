"""The gating study end to end at tiny budgets: modes of one regime and seed share their wakes,
the audits are saved, and the report rebuilds the same tables from the results folder alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gating_study.py"
TINY = ["agent.net_arch=[64,64]", "agent.n_envs=2", "agent.hyperparameters.n_steps=64",
        "agent.hyperparameters.batch_size=64", "agent.hyperparameters.n_epochs=2", "protocol.phases.0.steps=256",
        "protocol.phases.2.steps=256", "consolidation.updates=20", "eval_episodes=2", "memory.capacity_per_task=512",
        "student_hidden=[8,8]", "log_formats=[csv]"]


def _study(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    ran = _study("run", "--regimes", "raw_memories", "--modes", "on", "off", "matched", "--seeds", "0", "1",
                 "--jobs", "1", "--out", str(root / "runs"), "--cache-dir", str(root / "cache"), "--", *TINY)
    assert ran.returncode == 0, ran.stderr[-3000:]
    reported = _study("report", "--runs", str(root / "runs"), "--out", str(root / "results"), "--reps", "200")
    assert reported.returncode == 0, reported.stderr[-3000:]
    return root, reported.stdout


def test_the_modes_share_their_wakes_and_differ_in_sleep(study):
    root, _ = study
    results = {mode: json.loads((root / "runs" / "raw_memories" / mode / "seed0" / "results.json").read_text())
               for mode in ("on", "off", "matched")}
    assert results["on"]["R"]["cortical"] == results["off"]["R"]["cortical"] == results["matched"]["R"]["cortical"]
    gating = {mode: [p["gating"] for p in r["phases"] if p["kind"] == "sleep"] for mode, r in results.items()}
    assert all(g["mode"] == mode for mode, nights in gating.items() for g in nights)
    assert all(g["gain_std"] == 0 for g in gating["off"])
    assert any(g["gain_std"] > 0 for g in gating["on"])


def test_the_report_writes_tables_audits_and_the_figure_and_rebuilds_from_saved(study):
    root, printed = study
    results = root / "results"
    frame = pd.read_csv(results / "runs.csv")
    assert set(frame["strategy"]) == {"on", "off", "matched"} and set(frame["seed"]) == {0, 1}
    table = pd.read_csv(results / "comparisons.csv")
    pairs = set(zip(table["mode"], table["control"], strict=True))
    assert pairs == {("on", "off"), ("on", "matched")} and (table["seeds"] == 2).all()
    audits = json.loads((results / "audits.json").read_text())
    assert {a["mode"] for a in audits} == {"on", "off", "matched"}
    assert all(set(a["gating"]["per_task"]) <= {"0", "1"} for a in audits)
    assert (results / "figures" / "gains.png").stat().st_size > 0
    assert "raw_memories" in printed and "`on` vs `matched`" in printed
    assert "Students of raw_memories" in printed and "`off` " in printed
    assert "Mean gain by task in night 2 (`on`, mean over seeds): A " in printed
    before = (results / "table.md").read_text()
    again = _study("report", "--from-saved", str(results), "--reps", "200")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (results / "table.md").read_text().split("Rebuilt by")[0] == before.split("Rebuilt by")[0]


def test_bad_arguments_name_the_flag_and_the_allowed_values():
    bad = _study("run", "--regimes", "tiny_brain")
    assert bad.returncode == 2 and "--regimes" in bad.stderr and "short_sleep" in bad.stderr
    bad = _study("run", "--modes", "off", "on")
    assert bad.returncode == 2 and "'on' first" in bad.stderr


def test_comparisons_pair_on_with_each_control_and_inverted_with_off():
    from reporting import gating

    rows = []
    shifts = {"on": 0.3, "off": 0.1, "inverted": 0.2, "shuffled_within_task": 0.1, "shuffled_across_tasks": 0.0}
    for mode, shift in shifts.items():
        for seed in range(4):
            for metric in gating.COMPARED:
                rows.append({"family": "short_sleep", "strategy": mode, "seed": seed, "slept": True,
                             "policy": "student", "metric": metric, "value": seed / 10 + shift})
    table = gating.comparisons(pd.DataFrame(rows), reps=200, seed=0).set_index(["mode", "control", "metric"])
    assert ("on", "matched", "final_first") not in table.index  # a mode that did not run is left out
    assert table.loc[("on", "off", "final_first"), "difference"] == pytest.approx(0.2)
    assert table.loc[("inverted", "off", "final_first"), "difference"] == pytest.approx(0.1)
    across = table.loc[("shuffled_across_tasks", "shuffled_within_task", "learned_second")]
    assert across["difference"] == pytest.approx(-0.1) and across["high"] < 0
