"""Time the README's Quick start as a new user meets it: each of its two commands in a fresh clone.

For each command (``main``: set-up and the quick experiment; ``tests``: set-up and the test
suite) the repository is cloned at one revision into a temporary folder, and the set-up and
what follows it are timed apart (wall clock); after ``main``, the set-up runs once more in the
same clone (what a second call costs). The tests' counts and time are read from pytest's
summary line. Everything goes to ``results/quickstart/timing.json`` with the revision, the
date, the machine's cores and its load average before each step, and ``--readme`` writes the
README's ``quickstart`` block from that file. Run it on an idle machine: another job on the
same cores makes every time longer.

    python scripts/time_quickstart.py --readme                 # clone HEAD, time both, save, README
    python scripts/time_quickstart.py --only main --readme     # the first command only (the saved tests entry is kept)
    python scripts/time_quickstart.py --from-saved --readme    # the README block from the saved file, no timing
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: the repository's packages
    sys.path.insert(0, str(ROOT))

from fileio import write_json_atomic  # noqa: E402
from reporting.readme import replace_readme_block  # noqa: E402

SAVED = ROOT / "results" / "quickstart" / "timing.json"
README = ROOT / "README.md"
BLOCK = "quickstart"
SETUP = "./scripts/setup.sh"
# the README's two Quick start commands, set-up first (tests/test_time_quickstart.py checks the README quotes them)
COMMANDS = {"main": (SETUP, ".venv/bin/python scripts/run.py experiment=quick"),
            "tests": (SETUP, ".venv/bin/python -m pytest -q")}
REBUILD = "python scripts/time_quickstart.py --readme"
_OUTCOME = re.compile(r"(\d+) (passed|failed|skipped|deselected|xfailed|xpassed|errors?|warnings?)\b")
_PLURAL = {"error": "errors", "warning": "warnings"}
_SUMMARY = re.compile(r"^[=\s]*((?:\d+ \w+(?:, )?)+) in ([\d.]+)s\b.*$", re.M)


def parse_pytest_summary(output: str) -> dict | None:
    """pytest's last summary line (``1351 passed, 3 skipped, 2 warnings in 515.23s (0:08:35)``,
    bare under ``-q``, between ``=`` signs otherwise) as ``{"counts": {"passed": 1351, ...},
    "seconds": 515.23}``; ``error`` and ``warning`` are counted under their plural. None when
    the output holds no summary (pytest did not get that far)."""
    found = _SUMMARY.findall(output)
    if not found:
        return None
    outcomes, seconds = found[-1]
    counts = {_PLURAL.get(word, word): int(number) for number, word in _OUTCOME.findall(outcomes)}
    return {"counts": counts, "seconds": float(seconds)}


def run_timed(command: str, cwd: Path, log: Path) -> dict:
    """Run ``command`` in bash in ``cwd``, output to ``log``: wall seconds, exit code, and the
    1-minute load average just before it started."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.run(["bash", "-c", command], cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    return {"command": command, "seconds": time.perf_counter() - start, "returncode": code, "load_before": load}


def time_command(name: str, repo: Path, revision: str, work: Path) -> dict:
    """One Quick start command in a fresh clone of ``repo`` at ``revision``: the set-up and the
    rest timed apart (and, for ``main``, the set-up once more); pytest's summary for ``tests``."""
    clone = work / name
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(repo), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", revision], check=True)
    setup, command = COMMANDS[name]
    entry = {"command": f"{setup} && {command}", "setup": run_timed(setup, clone, work / f"{name}_setup.log")}
    if entry["setup"]["returncode"] == 0:
        entry["run"] = run_timed(command, clone, work / f"{name}_run.log")
        if name == "tests":
            entry["pytest"] = parse_pytest_summary((work / f"{name}_run.log").read_text(errors="replace"))
        if name == "main":
            entry["setup_again"] = run_timed(setup, clone, work / f"{name}_setup_again.log")
    steps = [entry["setup"]] + ([entry["run"]] if "run" in entry else [])
    entry["seconds"] = sum(step["seconds"] for step in steps)
    entry["returncode"] = next((s["returncode"] for s in steps if s["returncode"]), 0)
    return entry


def measure(repo: Path, revision: str, names: list[str], keep: Path | None = None) -> dict:
    """Every command of ``names`` from its own clone; the logs stay in ``keep`` if given."""
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", revision], check=True, capture_output=True,
                         text=True).stdout.strip()
    timing = {"revision": sha, "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "commands": {}}
    with tempfile.TemporaryDirectory(prefix="quickstart-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in names:
            timing["commands"][name] = time_command(name, repo, sha, work)
    return timing


def duration(seconds: float) -> str:
    """``4 min 42 s``, ``58 s``: whole seconds, as the README writes times."""
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"


def readme_body(timing: dict | None) -> str:
    """The README's ``quickstart`` block: what ``timing`` (a saved timing.json) says, or that
    nothing was measured yet when it is None."""
    if timing is None:
        return (f"Timings: not yet measured at this revision; rebuild with `{REBUILD}` on an idle machine "
                "(it clones the repository and runs both commands).")
    machine = timing["machine"]
    lines = [f"Written by `{REBUILD}` from `{SAVED.relative_to(ROOT)}` (do not edit by hand): measured at "
             f"{timing['revision'][:7]} on {timing['date'][:10]}, {machine['cores']} cores, each command from a "
             "fresh clone (wall clock; 1-minute load average before each step in brackets)."]
    for name, label in (("main", "First command"), ("tests", "Second command")):
        entry = timing["commands"].get(name)
        if entry is None:
            lines.append(f"- {label}: not measured.")
            continue
        setup = entry["setup"]
        text = f"- {label}: {duration(entry['seconds'])} in all; set-up {duration(setup['seconds'])}"
        text += f" (load {setup['load_before']:.1f})"
        if "run" in entry:
            what = "`experiment=quick`" if name == "main" else "the tests"
            text += f", {what} {duration(entry['run']['seconds'])} (load {entry['run']['load_before']:.1f})"
        if entry.get("pytest"):
            counts = ", ".join(f"{n} {word}" for word, n in entry["pytest"]["counts"].items())
            text += f": {counts} in {duration(entry['pytest']['seconds'])} by pytest's clock"
        if "setup_again" in entry:
            text += f"; the set-up run again {duration(entry['setup_again']['seconds'])}"
        if entry["returncode"]:
            text += f"; it FAILED with exit code {entry['returncode']}"
        lines.append(text + ".")
    return "\n".join(lines)


def load_saved(path: Path) -> dict | None:
    """The saved timing, or None when there is none."""
    return json.loads(path.read_text()) if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the git repository to clone (default: this one)")
    parser.add_argument("--revision", default="HEAD", help="the revision to time (default HEAD; uncommitted "
                                                           "changes are not in a clone)")
    parser.add_argument("--only", choices=sorted(COMMANDS), action="append",
                        help="time this command only (repeatable; default both); the saved file keeps the other")
    parser.add_argument("--out", type=Path, default=SAVED, help=f"the timing JSON (default {SAVED.relative_to(ROOT)})")
    parser.add_argument("--keep-logs", type=Path, help="a new folder that keeps the clones and each step's output")
    parser.add_argument("--from-saved", action="store_true", help="no timing: report the saved --out file")
    parser.add_argument("--readme", type=Path, nargs="?", const=README,
                        help="replace the README's block (default README.md) with what the file says")
    parser.add_argument("--readme-block", default=BLOCK, metavar="NAME", help=f"the block (default {BLOCK})")
    args = parser.parse_args(argv)
    if args.from_saved:
        timing = load_saved(args.out)
    else:
        names = args.only or list(COMMANDS)
        timing = measure(args.repo.resolve(), args.revision, names, args.keep_logs)
        saved = load_saved(args.out)
        if args.only and saved is not None and saved.get("revision") == timing["revision"]:
            timing["commands"] = {**saved["commands"], **timing["commands"]}  # the other command, same revision
        write_json_atomic(args.out, timing)
    body = readme_body(timing)
    print(body)
    if args.readme is not None:
        try:
            replace_readme_block(args.readme_block, body, args.readme)
        except ValueError as error:
            print(f"error: --readme: {error}", file=sys.stderr)
            return 2
    failed = timing is not None and any(entry["returncode"] for entry in timing["commands"].values())
    return 1 if failed and not args.from_saved else 0


if __name__ == "__main__":
    sys.exit(main())
