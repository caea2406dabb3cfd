"""scripts/time_quickstart.py: the Quick start's timings come from a saved measurement, never from
hand-written text. Checked here: pytest's summary line is parsed, the README block is exactly
what the script writes from the saved file (or says nothing was measured when there is none),
the script times the README's own commands, and a whole measurement runs on a tiny git
repository whose set-up and commands take a moment (real git, bash and pytest processes)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("time_quickstart", ROOT / "scripts" / "time_quickstart.py")
quickstart = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quickstart)

TIMING = {"revision": "0123456789abcdef0123456789abcdef01234567", "date": "2026-12-08T01:00:00+00:00",
          "machine": {"cores": 2, "platform": "Linux", "python": "3.11.9"},
          "commands": {
              "main": {"command": "...", "seconds": 301.4, "returncode": 0,
                       "setup": {"seconds": 61.2, "returncode": 0, "load_before": 0.04},
                       "run": {"seconds": 240.2, "returncode": 0, "load_before": 0.9},
                       "setup_again": {"seconds": 4.4, "returncode": 0, "load_before": 1.9}},
              "tests": {"command": "...", "seconds": 702.0, "returncode": 0,
                        "setup": {"seconds": 58.0, "returncode": 0, "load_before": 0.1},
                        "run": {"seconds": 644.0, "returncode": 0, "load_before": 1.0},
                        "pytest": {"counts": {"passed": 1351, "skipped": 3}, "seconds": 631.5}}}}


@pytest.mark.parametrize(("output", "parsed"), [
    ("....\n1351 passed, 3 skipped, 2 warnings in 515.23s (0:08:35)\n",
     {"counts": {"passed": 1351, "skipped": 3, "warnings": 2}, "seconds": 515.23}),
    ("created: 2/2 workers\n===== 1 failed, 12 passed, 1 error in 3.10s =====\n",
     {"counts": {"failed": 1, "passed": 12, "errors": 1}, "seconds": 3.1}),
    ("1 passed in 0.01s\nlater\n2 passed, 1 deselected in 0.50s\n", {"counts": {"passed": 2, "deselected": 1},
                                                                    "seconds": 0.5}),
    ("ImportError while loading conftest\n", None),
])
def test_pytest_summary_line_is_parsed(output, parsed):
    assert quickstart.parse_pytest_summary(output) == parsed


def test_durations_are_whole_minutes_and_seconds():
    assert [quickstart.duration(s) for s in (0.4, 58.4, 59.6, 282.0, 730.5)] == [
        "0 s", "58 s", "1 min 0 s", "4 min 42 s", "12 min 10 s"]


def test_the_block_says_what_the_saved_file_holds():
    body = quickstart.readme_body(TIMING)
    assert "measured at 0123456 on 2026-12-08, 2 cores" in body
    assert "- First command: 5 min 1 s in all; set-up 1 min 1 s (load 0.0), `experiment=quick` 4 min 0 s" in body
    assert "the set-up run again 4 s" in body
    assert "- Second command: 11 min 42 s in all" in body and "1351 passed, 3 skipped in 10 min 32 s" in body
    assert "FAILED" not in body
    failed = json.loads(json.dumps(TIMING))
    failed["commands"]["tests"]["returncode"] = 1
    del failed["commands"]["main"]
    body = quickstart.readme_body(failed)
    assert "- First command: not measured." in body and "FAILED with exit code 1" in body


def test_without_a_saved_file_the_block_says_nothing_was_measured(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# t\n\nkeep\n<!-- quickstart:start -->\nold 12 min 10 s\n<!-- quickstart:end -->\nkeep too\n")
    assert quickstart.main(["--from-saved", "--out", str(tmp_path / "none.json"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "not yet measured at this revision; rebuild with `python scripts/time_quickstart.py --readme`" in text
    assert "12 min" not in text and text.startswith("# t\n\nkeep\n") and text.endswith("keep too\n")
    (tmp_path / "saved.json").write_text(json.dumps(TIMING))
    assert quickstart.main(["--from-saved", "--out", str(tmp_path / "saved.json"), "--readme", str(readme)]) == 0
    assert quickstart.readme_body(TIMING) in readme.read_text()


def test_the_committed_readme_block_is_what_the_script_writes_from_the_saved_file():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- quickstart:start -->\n(.*?)\n<!-- quickstart:end -->", text, re.S)
    assert block is not None
    assert block.group(1) == quickstart.readme_body(quickstart.load_saved(quickstart.SAVED))


def test_the_script_times_the_commands_the_readme_quotes():
    text = (ROOT / "README.md").read_text()
    quick_start = text[text.index("## Quick start"):text.index("## Command line")]
    for setup, command in quickstart.COMMANDS.values():
        assert f"{setup} && {command}\n" in quick_start
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith(" && ".join(quickstart.COMMANDS["tests"]))


def _tiny_repository(root: Path) -> Path:
    """A git repository with the Quick start's shape: scripts/setup.sh makes .venv/bin/python (this
    interpreter), scripts/run.py prints, tests/ holds two tests, one skipped."""
    (root / "scripts").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "scripts" / "setup.sh").write_text(
        f"#!/usr/bin/env bash\nset -e\nmkdir -p .venv/bin\nprintf '#!/bin/sh\\nexec {sys.executable} \"$@\"\\n'"
        " > .venv/bin/python\nchmod +x .venv/bin/python\n")
    (root / "scripts" / "setup.sh").chmod(0o755)
    (root / "scripts" / "run.py").write_text("import sys\nprint('ran', sys.argv[1:])\n")
    (root / "tests" / "test_a.py").write_text(
        "import pytest\n\ndef test_one():\n    pass\n\n@pytest.mark.skip\ndef test_two():\n    pass\n")
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider -p no:xdist\n")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "tiny"], check=True)
    return root


def test_a_measurement_clones_times_and_saves(tmp_path):
    repo = _tiny_repository(tmp_path / "repo")
    (repo / "uncommitted.txt").write_text("not in a clone")
    out, readme, logs = tmp_path / "timing.json", tmp_path / "README.md", tmp_path / "logs"
    readme.write_text("<!-- quickstart:start -->\n<!-- quickstart:end -->\n")
    assert quickstart.main(["--repo", str(repo), "--out", str(out), "--keep-logs", str(logs),
                            "--readme", str(readme)]) == 0
    timing = json.loads(out.read_text())
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert timing["revision"] == head.strip() and timing["machine"]["cores"] >= 1
    main, tests = timing["commands"]["main"], timing["commands"]["tests"]
    assert main["returncode"] == 0 and "ran ['experiment=quick']" in (logs / "main_run.log").read_text()
    assert main["seconds"] == pytest.approx(main["setup"]["seconds"] + main["run"]["seconds"])
    assert "setup_again" in main and "setup_again" not in tests
    assert tests["pytest"]["counts"] == {"passed": 1, "skipped": 1}
    assert not (logs / "main" / "uncommitted.txt").exists()  # a clone: committed files only
    body = quickstart.readme_body(timing)
    assert readme.read_text() == f"<!-- quickstart:start -->\n{body}\n<!-- quickstart:end -->\n"
    # --only times one command and keeps the saved other one (same revision)
    assert quickstart.main(["--repo", str(repo), "--out", str(out), "--only", "main"]) == 0
    again = json.loads(out.read_text())
    assert again["commands"]["tests"] == tests and again["commands"]["main"] != main
