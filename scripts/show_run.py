"""Print a finished run's result table from its saved ``results.json`` (no training).

    python scripts/show_run.py runs/2026-11-27/18-50-00
    python scripts/show_run.py results/quick --readme      # the README's quick-experiment table
    python scripts/show_run.py results/quick_stand --readme --readme-block quick_stand
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: the repository's packages
    sys.path.insert(0, str(ROOT))

from consolidation.results import metrics_of  # noqa: E402
from reporting.readme import replace_readme_block  # noqa: E402
from reporting.summary import format_results, run_block  # noqa: E402

README = ROOT / "README.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run directory (or a folder holding its results.json)")
    parser.add_argument("--readme", type=Path, nargs="?", const=README,
                        help="write the table into this README (default README.md), between the block's markers")
    parser.add_argument("--readme-block", default="quick", metavar="NAME", help="the block --readme replaces")
    args = parser.parse_args(argv)
    path = args.run_dir / "results.json"
    if not path.is_file():
        parser.error(f"{path} does not exist: expected the directory of a finished run")
    results = json.loads(path.read_text())
    results["metrics"] = {**results["metrics"], **metrics_of(results)}  # current metric definitions
    print(format_results(results))
    if args.readme is not None:
        replace_readme_block(args.readme_block, run_block(results), args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
