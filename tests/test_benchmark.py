"""scripts/benchmark.py: the grid it runs, its order, and a tiny real benchmark end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import benchmark  # noqa: E402


def test_runs_that_compute_wakes_come_before_the_runs_that_reuse_them(tmp_path):
    runs = benchmark.grid("bench", ["reach", "balance"], ["gated", "none", "ewc", "full"], [0, 1], tmp_path, [])
    labels = [label for label, _, _ in runs]
    assert len(labels) == len(set(labels)) == 16
    first_follower = min(i for i, label in enumerate(labels) if "/gated/" in label or "/full/" in label)
    assert all("/none/" in label or "/ewc/" in label for label in labels[:first_follower])
    assert first_follower == 8
    overrides = dict(item.split("=", 1) for item in runs[0][1])
    assert overrides == {"experiment": "bench_reach", "env": "reach", "consolidation": "none", "seed": "0"}
    assert runs[0][2] == tmp_path / "reach" / "none" / "seed0"


def test_fine_tuning_leads_then_the_runs_that_share_no_wake(tmp_path):
    runs = benchmark.grid("bench", ["reach"], ["ewc", "clear", "multitask", "none", "progress_compress", "gated"],
                          [0], tmp_path, [])
    assert [label.split("/")[1] for label, _, _ in runs] == ["none", "multitask", "ewc", "clear",
                                                              "progress_compress", "gated"]


def test_the_first_wake_is_asked_of_the_strategy_built_from_its_config_and_the_grids_overrides():
    assert benchmark.first_wake_plain("progress_compress") and not benchmark.first_wake_plain("multitask")
    with pytest.raises(Exception, match="consolidation.ewc_lambda=-1.0 is not allowed"):
        benchmark.first_wake_plain("progress_compress", ["consolidation.ewc_lambda=-1"])


def test_overrides_of_the_family_s_own_env_keys_are_composed_with_that_family(tmp_path):
    # a balance context given as a dict of balance fields must not be merged into reach's contexts
    runs = benchmark.grid("bench", ["balance"], ["ewc", "none"], [0], tmp_path,
                          ["env.contexts.A={gravity_tilt_deg:-20.0}"])
    assert [label for label, _, _ in runs] == ["balance/none/seed0", "balance/ewc/seed0"]


def test_the_awake_control_comes_first_among_the_runs_that_reuse_wakes(tmp_path):
    runs = benchmark.grid("bench", ["reach"], ["gated", "awake_control", "none", "full"], [0], tmp_path, [])
    assert [label.split("/")[1] for label, _, _ in runs] == ["none", "awake_control", "gated", "full"]


def test_a_family_without_its_own_preset_uses_the_named_one():
    assert benchmark.preset("bench", "balance") == "bench_balance"
    assert benchmark.preset("smoke", "balance") == "smoke"


def test_without_a_run_that_computes_the_shared_wakes_one_sleep_variant_leads(tmp_path):
    runs = benchmark.grid("smoke", ["reach"], ["gated", "full"], [0], tmp_path, [])
    assert [label for label, _, _ in runs] == ["reach/gated/seed0", "reach/full/seed0"]


def test_a_tiny_benchmark_runs_every_run_once_and_records_its_time(tmp_path):
    command = [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--experiment", "smoke", "--families",
               "reach", "--strategies", "none", "gated", "--seeds", "0", "--jobs", "1", "--out", str(tmp_path),
               "--cache-dir", str(tmp_path / "cache")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "done reach/none/seed0" in first.stdout and "done reach/gated/seed0" in first.stdout
    # not a terminal: plain lines, no carriage return; the workers' progress goes to each run's run.log
    assert "\r" not in first.stdout and "\r" not in first.stderr and "/256 steps" not in first.stderr
    assert "phase 0 (wake_A): 256/256 steps" in (tmp_path / "reach" / "none" / "seed0" / "run.log").read_text()
    gated = json.loads((tmp_path / "reach" / "gated" / "seed0" / "results.json").read_text())
    assert [p["cache"]["hit"] for p in gated["phases"] if p["kind"] == "wake"] == [True, True]
    assert (tmp_path / "reach" / "gated" / "seed0" / ".hydra" / "config.yaml").is_file()
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert timing["runs"] == 2 and timing["failed"] == 0 and timing["minutes"] > 0
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "2 already finished, 0 to run" in again.stdout


def test_bad_arguments_name_the_flag_and_the_allowed_values():
    completed = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--families", "swim"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "--families ['swim'] are not allowed" in completed.stderr and "'balance'" in completed.stderr


def test_time_left_counts_each_kind_of_run_at_its_own_pace():
    left = benchmark.TimeLeft(["reach/none/seed0", "reach/gated/seed0", "reach/none/seed1", "reach/gated/seed1",
                               "balance/none/seed0"], jobs=2)
    assert left.minutes() is None
    left.finished("reach/none/seed0", 60.0)
    left.finished("reach/gated/seed0", 6.0)
    # reach/none at 60 s, reach/gated at 6 s, balance (unseen) at the family-less mean 33 s; 2 workers
    assert left.minutes() == (60.0 + 6.0 + 33.0) / 2 / 60
