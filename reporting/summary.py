"""The result table printed at the end of a run: R for both policies and the headline metrics."""

from __future__ import annotations

import math
from typing import Any

from envs.contexts import describe_context


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def format_results(results: dict[str, Any]) -> str:
    """Markdown tables: score of each policy on each task after each phase, then metrics."""
    tasks = results["tasks"]
    contexts = results["contexts"]
    header = " | ".join(f"{t} ({describe_context(contexts[t])})" for t in tasks)
    lines = [f"## {results['family']}, seed {results['seed']}: normalised scores "
             "(0 = better of random/zero action, 1 = reference)", ""]
    for policy in ("cortical", "subcortical"):
        lines += [f"**{policy}**", "", f"| after phase | {header} |", "|---" * (len(tasks) + 1) + "|"]
        for name, row in zip(results["rows"], results["R"][policy], strict=True):
            lines.append(f"| {name} | " + " | ".join(_fmt(float(v)) for v in row) + " |")
        lines.append("")
    m = results["metrics"]
    lines += ["| metric (bounded scores: clipped to [-1, 1]) | cortical | subcortical |", "|---|---|---|"]
    lines.append(f"| average performance | {_fmt(m['cortical'].get('bounded_average_performance'))} | "
                 f"{_fmt(m['subcortical'].get('bounded_average_performance'))} |")
    for task in tasks:   # how well each task was learned where its training ended
        lines.append(f"| {task} learned | {_fmt(m['cortical'].get('learned', {}).get(task))} | "
                     f"{_fmt(m['subcortical'].get('learned', {}).get(task))} |")
    first = tasks[0]
    lines.append(f"| {first} lost (learned - at the end) | "
                 f"{_fmt(m['cortical'].get('retention_drop', {}).get(first))} | "
                 f"{_fmt(m['subcortical'].get('retention_drop', {}).get(first))} |")
    lines.append(f"| {first} kept (raw ratio; nan below 0.5) | "
                 f"{_fmt(m['cortical'].get('retention_ratio', {}).get(first))} | "
                 f"{_fmt(m['subcortical'].get('retention_ratio', {}).get(first))} |")
    lines += ["", "fidelity (student/teacher after its sleep): "
              + ", ".join(f"{t}={_fmt(v)}" for t, v in m["fidelity"].items()),
              f"parameters: subcortical {results['parameters']['subcortical']:,} / cortical actor "
              f"{results['parameters']['cortical_actor']:,} = {m['parameter_ratio']:.3f}"]
    if m.get("savings"):
        lines += ["", _savings_table(m["savings"], contexts)]
    return "\n".join(lines)


def _steps(value: Any, threshold: float) -> str:
    if math.isnan(threshold):
        return "-"  # no threshold: the first wake learned nothing
    return "not reached" if math.isnan(value) else f"{value:,.0f}"


def _savings_table(savings: dict[str, Any], contexts: dict[str, Any]) -> str:
    """Savings of every relearned context (consolidation/results.py ``savings_by_context``)."""
    fraction = next(iter(savings.values()))["threshold_fraction"]
    lines = [f"savings (cortex, training-episode scores; threshold = {fraction:g} x the score the first wake "
             "ended with; nan: a threshold not reached, or nothing learned in the first wake)", "",
             "| context | threshold | steps first | steps relearn | savings |", "|---|---|---|---|---|"]
    for task, entry in savings.items():
        first, relearn = (_steps(entry[k], entry["threshold"]) for k in ("steps_first", "steps_relearn"))
        name = describe_context(contexts.get(task, "?"))
        lines.append(f"| {task} ({name}) | {_fmt(entry['threshold'])} | {first} | {relearn} | "
                     f"{_fmt(entry['savings'])} |")
    return "\n".join(lines)


def run_block(results: dict[str, Any]) -> str:
    """A README block of one saved run: its result table (metrics by their current definitions,
    consolidation.results.metrics_of) and the time its phases took."""
    from consolidation.results import metrics_of

    results = {**results, "metrics": {**results["metrics"], **metrics_of(results)}}
    timings = results["timings"]
    total = sum(timings.values())
    wake = sum(v for k, v in timings.items() if k.startswith("wake"))
    sleep = sum(v for k, v in timings.items() if k.startswith("sleep"))
    return (f"{format_results(results)}\n\nPhase time: {total / 60:.1f} min in all, wake {wake:.0f} s, "
            f"sleep {sleep:.1f} s ({sleep / wake:.1%} of wake).")
