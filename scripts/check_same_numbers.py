"""Check that two sets of runs give the same numbers: R matrices, evaluations and metrics, exactly.

For a change that must not change any result (a refactor, a speed-up), run the same grid before
and after and compare. Runs are matched by where they sit: ``<family>/<strategy>/seed<k>/results.json``
in a benchmark run directory, ``<family>/<strategy>/seed<k>.json`` in a report's copies
(results/benchmark), or a single run directory against another.

    python scripts/check_same_numbers.py results/benchmark runs/after --families reach --seeds 0 1 2
    python scripts/check_same_numbers.py runs/before_quick runs/after_quick

Exit 0 when every run present on the first side is present on the second with identical numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recompute_metrics import same  # noqa: E402

FIELDS = ("R", "evaluations", "metrics", "anchors", "tasks", "rows", "trained_rows")


def runs(root: Path) -> dict[str, Path]:
    """label -> results file under ``root`` (the label is ``family/strategy/seedK``, or ``.`` for one run)."""
    if (root / "results.json").is_file():
        return {".": root / "results.json"}
    found = {}
    for path in root.rglob("*.json"):
        parts = path.relative_to(root).parts
        if len(parts) == 4 and parts[-1] == "results.json" and parts[2].startswith("seed"):
            found["/".join(parts[:3])] = path
        elif len(parts) == 3 and parts[-1].startswith("seed") and parts[-1][4:-5].isdigit():
            found["/".join([*parts[:2], parts[-1][:-5]])] = path
    return found


def differing_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [f for f in FIELDS if not same(before.get(f), after.get(f))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--families", nargs="*", help="only these families")
    parser.add_argument("--seeds", nargs="*", type=int, help="only these seeds")
    args = parser.parse_args(argv)
    before, after = runs(args.before), runs(args.after)
    wanted = sorted(label for label in before
                    if (not args.families or label.split("/")[0] in args.families)
                    and (not args.seeds or label == "." or int(label.rsplit("seed", 1)[1]) in args.seeds))
    if not wanted:
        print(f"no runs to compare under {args.before}", file=sys.stderr)
        return 2
    missing = [label for label in wanted if label not in after]
    changed = {}
    for label in wanted:
        if label in after:
            fields = differing_fields(json.loads(before[label].read_text()), json.loads(after[label].read_text()))
            if fields:
                changed[label] = fields
    same_count = len(wanted) - len(missing) - len(changed)
    print(f"{len(wanted)} runs compared ({', '.join(FIELDS)}): {same_count} identical, {len(changed)} different, "
          f"{len(missing)} missing on the second side")
    for label, fields in changed.items():
        print(f"  different: {label}: {', '.join(fields)}")
    for label in missing:
        print(f"  missing: {label}")
    return 0 if same_count == len(wanted) else 1


if __name__ == "__main__":
    sys.exit(main())
