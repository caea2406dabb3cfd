"""A run killed at any point (SIGKILL) resumes from its last finished phase with the same results.

Kill points are injected with MOTORSLEEP_CRASH_AT (runner/experiment.py ``crash_point``):
the process kills itself with SIGKILL there, so nothing gets to clean up, as with a real crash.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(run_dir: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MOTORSLEEP_CRASH_AT"}
    if crash_at:
        env["MOTORSLEEP_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", "seed=1",
                           f"hydra.run.dir={run_dir}"], capture_output=True, text=True, timeout=300, env=env)


def _numbers(run_dir: Path) -> str:
    results = json.loads((run_dir / "results.json").read_text())
    return json.dumps({"R": results["R"], "metrics": results["metrics"]}, sort_keys=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> str:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    assert _run(run_dir).returncode == 0
    return _numbers(run_dir)


@pytest.mark.parametrize("crash_at", [
    "0:before_checkpoint",   # during wake A: trained, nothing saved
    "2:before_checkpoint",   # during the first sleep
    "4:mid_checkpoint",      # half of wake B's files written, no seal
    "5:after_checkpoint",    # between phases: test sealed, next not started
])
def test_killed_run_resumes_to_the_same_results(tmp_path, reference, crash_at):
    killed = _run(tmp_path, crash_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "results.json").exists()
    resumed = _run(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    if crash_at != "0:before_checkpoint":
        assert "resuming" in resumed.stderr
    assert _numbers(tmp_path) == reference
    run = json.loads((tmp_path / "run.json").read_text())
    assert len(run.get("resumed", [])) == 1  # the second attempt is on record
    if crash_at != "0:before_checkpoint":  # the first attempt's training log survives the second
        assert (tmp_path / "logs" / "progress.csv").stat().st_size > 0
        assert (tmp_path / "logs_resumed_1" / "progress.csv").is_file()


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


@pytest.mark.parametrize("damage,file,message", [
    (_flip_a_byte, "02_sleep/memory.npz", "memory.npz does not match its checksum"),
    (_truncate, "00_wake_A/cortical.zip", "cortical.zip does not match its checksum"),
    (Path.unlink, "04_wake_B/subcortical.pt", "subcortical.pt does not match its checksum"),
    (_truncate, "05_test/phase.json", "phase.json is unreadable"),
])
def test_damaged_checkpoint_is_detected_by_name_and_recomputed(tmp_path, reference, damage, file, message):
    assert _run(tmp_path).returncode == 0
    damage(tmp_path / "phases" / file)
    (tmp_path / "results.json").unlink()
    again = _run(tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert message in again.stderr
    assert _numbers(tmp_path) == reference


def test_awake_control_resumes_after_a_kill_in_its_sleep(tmp_path):
    """The awake control steps the last wake's env in sleep; a resumed cortex has none attached."""
    def run(run_dir, crash_at=None):
        env = {k: v for k, v in os.environ.items() if k != "MOTORSLEEP_CRASH_AT"}
        if crash_at:
            env["MOTORSLEEP_CRASH_AT"] = crash_at
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke",
                               "consolidation=awake_control", f"hydra.run.dir={run_dir}"],
                              capture_output=True, text=True, timeout=300, env=env)
    assert run(tmp_path / "whole").returncode == 0
    assert run(tmp_path / "killed", "2:before_checkpoint").returncode == -signal.SIGKILL
    assert run(tmp_path / "killed").returncode == 0
    assert _numbers(tmp_path / "killed") == _numbers(tmp_path / "whole")
