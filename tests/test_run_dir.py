"""A run directory holds one config's phases: resuming it under another config refuses before any
work and leaves it untouched; the same config resumes; ``resume=accept`` is the explicit way past."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.identity import ABSENT, differences, run_identity
from runner.run_dir import RunDirectory, RunDirectoryMismatch

ROOT = Path(__file__).resolve().parents[1]


def _run(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", "cache.enabled=false",
                           f"hydra.run.dir={run_dir}", *overrides], capture_output=True, text=True, timeout=300)


def _snapshot(folder: Path) -> dict[str, tuple[int, str, int]]:
    """Every file and folder: size, SHA-256 and modification time (ns)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file()
                                         else "", p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("finished")
    completed = _run(run_dir)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return run_dir


def test_the_run_directory_records_its_config_identity(finished):
    record = json.loads((finished / "run.json").read_text())
    assert record["identity"]["seed"] == 0 and "run_dir" not in record["identity"]
    assert len(record["identity_digest"]) == 64
    assert (finished / ".hydra" / "config.yaml").is_file() and (finished / ".hydra" / "overrides.yaml").is_file()


@pytest.mark.parametrize("overrides,named", [
    (["seed=1"], ["seed: 0 in the run directory, 1 now"]),
    (["consolidation=full"], ["consolidation._target_",
                              "consolidation.downscaling: 1.0 in the run directory, 0.98 now"]),
    (["protocol.phases.2.steps=512"], ["protocol.phases.2.steps: 256 in the run directory, 512 now"]),
])
def test_resuming_under_another_config_refuses_and_leaves_the_directory_untouched(finished, overrides, named):
    before = _snapshot(finished)
    refused = _run(finished, *overrides)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "holds a run of another config" in refused.stderr and "hydra.run.dir" in refused.stderr
    for text in named:
        assert text in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _snapshot(finished) == before


def test_the_same_config_resumes_every_phase_from_the_directory(finished):
    again = _run(finished)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("resumed from the run directory") == 8  # smoke: 4 phases, each tested


def test_resume_accept_resumes_under_a_changed_config_and_records_it(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    accepted = _run(tmp_path, "eval_episodes=3", "resume=accept")
    assert accepted.returncode == 0 and "resume=accept" in accepted.stderr
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["resumed"][-1]["accepted_changes"] == [{"key": "eval_episodes", "recorded": 2, "now": 3}]
    assert record["identity"]["eval_episodes"] == 2  # the directory keeps the identity that made it


def test_differences_name_every_changed_key_with_both_values():
    a = run_identity({"seed": 0, "env": {"contexts": {"A": "curl_cw"}}, "run_dir": "/x", "cache": {"dir": "/c"},
                      "protocol": {"phases": [{"steps": 1}, {"steps": 2}]}})
    b = run_identity({"seed": 1, "env": {"contexts": {"A": "curl_ccw"}}, "run_dir": "/y", "cache": {"dir": "/d"},
                      "protocol": {"phases": [{"steps": 1}, {"steps": 3}]}, "student_hidden": [8]})
    assert differences(a, b) == [("env.contexts.A", "curl_cw", "curl_ccw"), ("protocol.phases.1.steps", 2, 3),
                                 ("seed", 0, 1), ("student_hidden", ABSENT, [8])]
    assert differences(a, a) == []


def test_a_bad_resume_mode_is_refused_with_the_allowed_values(tmp_path):
    with pytest.raises(ValueError, match=r"resume='maybe' is not allowed: expected one of \['check', 'accept'\]"):
        RunDirectory(tmp_path, {}, {}, resume="maybe")
    (tmp_path / "run.json").write_text(json.dumps({"identity": {"seed": 0}}))
    with pytest.raises(RunDirectoryMismatch, match="seed: 0 in the run directory, 1 now"):
        RunDirectory(tmp_path, {"seed": 1}, {}).check()
