"""Print a finished run's result table from its saved ``results.json`` (no training).

    python scripts/show_run.py runs/2026-11-27/18-50-00
    python scripts/show_run.py results/quick --readme      # the README's quick-experiment table
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from consolidation.results import metrics_of
from reporting.readme import replace_readme_block
from reporting.summary import format_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run directory (or a folder holding its results.json)")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md (quick block)")
    args = parser.parse_args(argv)
    path = args.run_dir / "results.json"
    if not path.is_file():
        parser.error(f"{path} does not exist: expected the directory of a finished run")
    results = json.loads(path.read_text())
    results["metrics"] = {**results["metrics"], **metrics_of(results)}  # current metric definitions
    table = format_results(results)
    print(table)
    if args.readme:
        timings = results["timings"]
        total = sum(timings.values())
        wake = sum(v for k, v in timings.items() if k.startswith("wake"))
        sleep = sum(v for k, v in timings.items() if k.startswith("sleep"))
        replace_readme_block("quick", f"{table}\n\nPhase time: {total / 60:.1f} min in all, wake {wake:.0f} s, "
                                      f"sleep {sleep:.1f} s ({sleep / wake:.1%} of wake).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
