"""Recompute the ``metrics`` of saved ``results.json`` files from their R matrices and phase records.

Metrics are pure functions of what a run recorded (consolidation/results.py), so a results file
saved under an older metric definition can be brought up to date without re-running anything.
``--check`` only reports the files whose saved metrics differ from a recomputation (exit 1 if any);
without it those files are rewritten (atomically), R and everything else untouched.

    python scripts/recompute_metrics.py --check results          # what tests/test_saved_results.py checks
    python scripts/recompute_metrics.py results/quick/results.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from consolidation.protocol import Protocol
from consolidation.results import metrics_of, savings_by_context
from fileio import write_json_atomic


def recomputed(saved: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics`` block a run with these R matrices and phase records writes today."""
    phases = [{"kind": r["kind"], **({"context": r["context"], "steps": r["steps"]} if r["kind"] == "wake" else {})}
              for r in saved["phases"]]
    protocol = Protocol(phases, test_after_every_phase=False)  # the records hold the tests themselves
    return {**metrics_of(saved), "savings": savings_by_context(protocol, saved["phases"])}


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, NaN equal to NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def results_files(paths: list[Path]) -> list[Path]:
    """Every saved run under ``paths``: results.json files, and the report's per-run copies (seed*.json)."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        else:
            found += sorted(p for p in path.rglob("*.json") if p.name == "results.json" or
                            (p.name.startswith("seed") and p.parent.parent.parent.name == "benchmark"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="results.json files or folders holding them")
    parser.add_argument("--check", action="store_true", help="report stale files, change nothing")
    args = parser.parse_args(argv)
    stale = []
    for path in results_files(args.paths):
        saved = json.loads(path.read_text())
        metrics = recomputed(saved)
        if same(saved["metrics"], metrics):
            continue
        stale.append(path)
        if not args.check:
            write_json_atomic(path, {**saved, "metrics": metrics})
    verb = "stale" if args.check else "rewritten"
    print(f"{len(stale)} file(s) {verb}" + "".join(f"\n  {p}" for p in stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
