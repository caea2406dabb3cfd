"""The result table printed at the end of a run: R for both policies and the headline metrics."""

from __future__ import annotations

import math
from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def format_results(results: dict[str, Any]) -> str:
    """Markdown tables: score of each policy on each task after each phase, then metrics."""
    tasks = results["tasks"]
    contexts = results["contexts"]
    header = " | ".join(f"{t} ({contexts[t]})" for t in tasks)
    lines = [f"## {results['family']}, seed {results['seed']}: normalised scores "
             "(0 = better of random/zero action, 1 = reference)", ""]
    for policy in ("cortical", "subcortical"):
        lines += [f"**{policy}**", "", f"| after phase | {header} |", "|---" * (len(tasks) + 1) + "|"]
        for name, row in zip(results["rows"], results["R"][policy], strict=True):
            lines.append(f"| {name} | " + " | ".join(_fmt(float(v)) for v in row) + " |")
        lines.append("")
    m = results["metrics"]
    lines += ["| metric | cortical | subcortical |", "|---|---|---|"]
    for key in ("average_performance", "average_forgetting", "backward_transfer"):
        lines.append(f"| {key.replace('_', ' ')} | {_fmt(m['cortical'][key])} | {_fmt(m['subcortical'][key])} |")
    first = tasks[0]
    lines.append(f"| retention of {first} | {_fmt(m['cortical']['retention'][first])} | "
                 f"{_fmt(m['subcortical']['retention'][first])} |")
    lines += ["", "fidelity (student/teacher after its sleep): "
              + ", ".join(f"{t}={_fmt(v)}" for t, v in m["fidelity"].items()),
              f"parameters: subcortical {results['parameters']['subcortical']:,} / cortical actor "
              f"{results['parameters']['cortical_actor']:,} = {m['parameter_ratio']:.3f}"]
    return "\n".join(lines)
