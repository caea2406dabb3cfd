"""Print the bad-input table of issue 15 as markdown: every case of tests/failure_cases.py run as a
real process against a checkout, with its exit code, whether it printed a traceback, what it left
on disk and the first line of its message.

    python scripts/failure_table.py                    # this checkout
    python scripts/failure_table.py --root /tmp/old    # another checkout (e.g. before a change)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from failure_cases import CASES, INTERRUPTIONS, command, environment, run_case, run_interruption  # noqa: E402


def _message(text: str) -> str:
    """The line that says what happened: the interruption's, a traceback's last, or the first."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    said = [line for line in lines if "interrupted (" in line or "terminated (" in line]
    line = said[0] if said else lines[-1] if "Traceback" in text else lines[0]
    return line.replace("|", "\\|")[:110]


def _row(case, root: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = run_case(case, root, Path(tmp))
    left = "yes" if out.left_behind else "no"
    shown = out.stderr if out.code else out.stdout
    args = " ".join([*case.flags, *case.args]) or (case.prepare.__doc__ or case.name).strip()
    return (f"| {case.name} | `{args}` | {out.code} | {'yes' if 'Traceback' in out.stderr else 'no'} | {left} "
            f"| {_message(shown)} |")


def _interruption_row(case, root: Path) -> str:
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        out = run_interruption(case, root, run_dir)
        again = subprocess.run(command(root, [*case.args, f"hydra.run.dir={run_dir}"]), capture_output=True,
                               text=True, env=environment(root), timeout=600)
        resumed = "yes" if again.returncode == 0 and "resuming" in again.stderr else (
            "reran from scratch" if again.returncode == 0 else f"no ({again.returncode})")
    lines = len(out.stderr.strip().splitlines())
    return (f"| {case.name} | signal {int(case.signum)} | {out.code} | {'yes' if 'Traceback' in out.stderr else 'no'} "
            f"| {lines} lines; rerun: {resumed} | {_message(out.stderr)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose scripts/run.py is run")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    args = parser.parse_args()
    root = args.root.resolve()
    print("| case | arguments | exit | traceback | left behind | message (first line) |")
    print("|---|---|---|---|---|---|")
    with ThreadPoolExecutor(args.jobs) as pool:
        for row in pool.map(lambda case: _row(case, root), CASES):
            print(row, flush=True)
        for row in pool.map(lambda case: _interruption_row(case, root), INTERRUPTIONS):
            print(row, flush=True)


if __name__ == "__main__":
    main()
