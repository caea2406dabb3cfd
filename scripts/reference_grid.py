"""The reach reference over a grid of contexts: the old PD against the iLQR planner.

Why: a normalised score is (R - R_base) / (R_reference - R_base), so the reference must be a
ceiling in every context a config can name (DESIGN.md section 3b). The task-space PD with exact
field cancellation was not: its 5 N m motors saturate on strong fields, per-joint clipping breaks
the cancellation, and on counter-clockwise fields of 22 N s/m and more targets are missed.

What: for each context (curl fields of both signs, visuomotor rotations and combinations), on the
evaluation episodes a run uses for its anchors (seeds 10000, ...; every target in turn), the
mean return, success rate and wall time of the old reference (agents.reference.ReachPDController)
and the new one (agents.reference.ReachPlanner), the baseline return (better of random and zero
action), and the old reference's normalised score against the new anchors (how far below the
ceiling it was). Diagnostics of the old PD's failure: the share of its steps with a motor at
its limit; its return with 10x stronger motors (gear 50: torques up to 50 N m, and a command cost
100x smaller, a few tenths of return at most); the return of the same PD with its command scaled
down as a whole instead of clipped per joint (ScaledPDController). With --bound, a check of
near-optimality: per episode, the best of three long iLQR runs (up to 100 steps, tolerance 1e-8),
each from one warm start alone (the old PD, the scaled PD, zero commands), and the new
reference's mean and largest gap to it. Computed fresh, no cache; one process.

    python scripts/reference_grid.py --json results/reference/grid.json --markdown
    python scripts/reference_grid.py --json results/reference/grid.json --bound --markdown
    python scripts/reference_grid.py --from-saved results/reference/grid.json --markdown
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np

import envs  # noqa: F401  (registers the ids)
from agents.evaluation import evaluate, normalised_score
from agents.reference import ReachPDController, ReachPlanner, ScaledPDController, baseline_return, zero_policy
from fileio import write_json_atomic
from runner.records import provenance

CURLS = (-30.0, -25.0, -20.0, -15.0, -10.0, 0.0, 10.0, 15.0, 20.0, 25.0, 30.0)
ROTATIONS = (-45.0, -30.0, 30.0, 45.0)
COMBINATIONS = ((20.0, 30.0), (-20.0, -30.0), (30.0, -45.0), (-30.0, 45.0))


def grid() -> list[dict]:
    """Contexts of the grid as ReachContext field dicts: curls, rotations, then both at once."""
    return ([{"curl_field": b, "rotation_deg": 0.0} for b in CURLS]
            + [{"curl_field": 0.0, "rotation_deg": r} for r in ROTATIONS]
            + [{"curl_field": b, "rotation_deg": r} for b, r in COMBINATIONS])


def timed(policy, env, episodes: int) -> tuple[dict, float]:
    start = time.perf_counter()
    result = evaluate(policy, env, episodes)
    return result.to_dict(), time.perf_counter() - start


def bound(env, episodes: int) -> list[float]:
    """Per episode, the best return of long iLQR runs from single warm starts (a near-optimality check)."""
    runs = [evaluate(ReachPlanner(env, iterations=100, tolerance=1e-8, max_failures=8, warm_starts={name: make}),
                     env, episodes).returns
            for name, make in {"pd": ReachPDController, "pd_scaled": ScaledPDController, "zero": zero_policy}.items()]
    return [max(episode) for episode in zip(*runs, strict=True)]


def saturation(env, episodes: int) -> float:
    """Share of the old PD's steps with a motor command at its limit."""
    controller, counts = ReachPDController(env), []

    def policy(obs):
        command = controller(obs)
        counts.append(bool(np.any(np.abs(command) >= 1.0)))
        return command

    evaluate(policy, env, episodes)
    return float(np.mean(counts))


def measure(context: dict, episodes: int, with_bound: bool = False) -> dict:
    env = gymnasium.make("motorsleep/Reach-v0", context=context)
    strong = gymnasium.make("motorsleep/Reach-v0", context=context, gear=50.0)
    base, _ = baseline_return(env, episodes)
    old, old_seconds = timed(ReachPDController(env), env, episodes)
    diagnosis = {"old_saturated_steps": saturation(env, episodes),
                 "old_gear50_return": evaluate(ReachPDController(strong), strong, episodes).mean_return,
                 "scaled_pd_return": evaluate(ScaledPDController(env), env, episodes).mean_return}
    strong.close()
    new, new_seconds = timed(ReachPlanner(env), env, episodes)
    worst = min(n - o for n, o in zip(new["returns"], old["returns"], strict=True))
    row = {"context": context, "base_return": base,
           "old": {**old, "seconds": old_seconds}, "new": {**new, "seconds": new_seconds},
           "old_score_vs_new": normalised_score(old["mean_return"], base, new["mean_return"]),
           "new_minus_old_worst_episode": worst, "diagnosis": diagnosis}
    if with_bound:
        best = bound(env, episodes)
        gaps = [b - n for b, n in zip(best, new["returns"], strict=True)]
        row["bound"] = {"returns": best, "mean_return": sum(best) / len(best),
                        "mean_gap": sum(gaps) / len(gaps), "max_gap": max(gaps)}
    env.close()
    return row


def label(context: dict) -> str:
    parts = []
    if context["curl_field"] or not context["rotation_deg"]:
        parts.append(f"b = {context['curl_field']:+g}")
    if context["rotation_deg"]:
        parts.append(f"rot {context['rotation_deg']:+g} deg")
    return ", ".join(parts)


def markdown(rows: list[dict], episodes: int) -> str:
    with_bound = all("bound" in r for r in rows)
    lines = [f"Reach reference per context ({episodes} evaluation episodes, seeds 10000-{10000 + episodes - 1}; "
             "return = mean over episodes, success = hand within 0.02 m of the target at the last step; "
             "b in N s/m).", "",
             "| context | baseline | old PD return | old success | old saturated steps | old, gear 50 | scaled PD "
             "| new (iLQR) return | new success | old score vs new anchors | new s/context |"
             + (" bound return | new gap: mean, max |" if with_bound else ""),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if with_bound else "")]
    for r in rows:
        d = r["diagnosis"]
        line = (f"| {label(r['context'])} | {r['base_return']:.2f} | {r['old']['mean_return']:.2f} "
                f"| {r['old']['success_rate']:.2f} | {d['old_saturated_steps']:.2f} | {d['old_gear50_return']:.2f} "
                f"| {d['scaled_pd_return']:.2f} | {r['new']['mean_return']:.2f} "
                f"| {r['new']['success_rate']:.2f} | {r['old_score_vs_new']:.3f} | {r['new']['seconds']:.2f} |")
        if with_bound:
            line += f" {r['bound']['mean_return']:.2f} | {r['bound']['mean_gap']:.3f}, {r['bound']['max_gap']:.3f} |"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=16, help="evaluation episodes per context (default 16)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--from-saved", type=Path, help="read the results from this JSON instead of measuring")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--bound", action="store_true", help="also the near-optimality check (about 10x the time)")
    parser.add_argument("--quick", action="store_true", help="only b = -30, 0, +30 and rotation +45 (a smoke test)")
    args = parser.parse_args(argv)

    if args.from_saved:
        payload = json.loads(args.from_saved.read_text())
    else:
        contexts = grid()
        if args.quick:
            contexts = [c for c in contexts if (c["curl_field"], c["rotation_deg"]) in
                        ((-30.0, 0.0), (0.0, 0.0), (30.0, 0.0), (0.0, 45.0))]
        rows = []
        for context in contexts:
            row = measure(context, args.episodes, args.bound)
            rows.append(row)
            if not args.markdown:
                print(f"{label(context):>24}: base {row['base_return']:7.2f}  old {row['old']['mean_return']:7.2f} "
                      f"({row['old']['success_rate']:.2f})  new {row['new']['mean_return']:7.2f} "
                      f"({row['new']['success_rate']:.2f}, {row['new']['seconds']:.2f} s)", flush=True)
        payload = {"episodes": args.episodes, "bound": args.bound, "seed": 10_000, "rows": rows,
                   "provenance": provenance(10_000)}
        if args.json:
            write_json_atomic(args.json, payload)
    if args.markdown:
        print(markdown(payload["rows"], payload["episodes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
