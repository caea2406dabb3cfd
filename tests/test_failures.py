"""Every bad input and interruption ends as a user should see it (issue 15, item 3): the exit code of
its class, one ``motorsleep:`` message with the words that say what is wrong and what to do, no
traceback, and nothing left behind; an interrupted run says how to resume, and that command resumes.

End to end: real ``scripts/run.py`` processes (real Hydra, real MuJoCo); the cases are in
``tests/failure_cases.py``. They all fail before training, so they run a few at a time.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from failure_cases import (
    CASES,
    INTERRUPTED,
    INTERRUPTIONS,
    command,
    environment,
    resume_command,
    run_case,
    run_interruption,
)

ROOT = Path(__file__).resolve().parents[1]
BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    """The outcome of every selected case, run three at a time (each process mostly imports)."""
    wanted = [item.callspec.params["name"] for item in request.session.items
              if getattr(item, "callspec", None) and item.function is test_bad_input_ends_cleanly]

    def one(name):
        return name, run_case(BY_NAME[name], ROOT, tmp_path_factory.mktemp(name))

    with ThreadPoolExecutor(3) as pool:
        return dict(pool.map(one, wanted))


@pytest.mark.parametrize("name", list(BY_NAME))
def test_bad_input_ends_cleanly(name, outcomes):
    case, out = BY_NAME[name], outcomes[name]
    assert out.code == case.code, out.stderr[-3000:]
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    assert not out.left_behind, f"left behind: {out.left_behind}"
    if case.code == 0:
        for word in case.stdout:
            assert word in out.stdout, f"{word!r} missing from: {out.stdout[:2000]}"
        return
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("motorsleep: "), out.stderr  # one message
    for word in case.words:
        assert word in lines[0], f"{word!r} missing from: {lines[0]}"


def test_the_table_has_at_least_25_bad_inputs_and_interruptions():
    assert len([c for c in CASES if c.code != 0]) + len(INTERRUPTIONS) >= 25
    assert len({c.name for c in CASES} | {c.name for c in INTERRUPTIONS}) == len(CASES) + len(INTERRUPTIONS)


@pytest.mark.parametrize("case", INTERRUPTIONS, ids=[c.name for c in INTERRUPTIONS])
def test_interrupted_run_says_how_to_resume_and_that_command_resumes(case, tmp_path):
    run_dir = tmp_path / "run"
    out = run_interruption(case, ROOT, run_dir)
    assert out.code == INTERRUPTED, out.stderr[-3000:]
    assert "Traceback" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if "interrupted (" in line or "terminated (" in line)
    message = lines[start:]
    assert len(message) <= 2 and all(line.startswith("motorsleep: ") for line in message), out.stderr
    for word in case.words:
        assert word in "\n".join(message), f"{word!r} missing from: {message}"
    if case.sealed is None:  # nothing finished: nothing is kept
        assert not run_dir.exists()
        return
    assert (run_dir / "phases" / case.sealed / "phase.json").is_file()
    assert not (run_dir / "results.json").exists()
    again = resume_command(out.stderr)  # the same command, pointed at the same run directory
    assert again == ["experiment=smoke", *case.args, f"hydra.run.dir={run_dir.resolve()}"]
    resumed = subprocess.run(command(ROOT, again[1:]), capture_output=True, text=True, env=environment(ROOT),
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {run_dir.resolve()} after phase 3 (test)" in resumed.stderr
    assert "phase 0 (wake_A): resumed from the run directory" in resumed.stderr
    assert "phase 4 (wake_B): computed" in resumed.stderr
    results = json.loads((run_dir / "results.json").read_text())
    assert len(results["R"]["cortical"]) == 4  # one row per test phase


@pytest.mark.parametrize("extra,kept", [((), False), (("phases/00_wake_A/phase.json",), True),
                                        (("notes.txt",), True), (("results.json",), True)],
                         ids=["only_own_files", "a_sealed_phase", "a_file_of_the_user", "results"])
def test_a_failed_run_directory_is_removed_only_when_it_holds_nothing_worth_keeping(tmp_path, extra, kept):
    from runner.failures import discard_unused_run_dir

    for name in (".hydra/config.yaml", "run.log", "run.json", "logs/progress.csv", "phases/01_test/record.tmp",
                 *extra):
        (tmp_path / "run" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "run" / name).write_text("x")
    discard_unused_run_dir(tmp_path / "run")
    assert (tmp_path / "run").exists() == kept
