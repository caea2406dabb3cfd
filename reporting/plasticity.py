"""The plasticity study's table (scripts/plasticity.py): B from A's weights against B from
scratch, per family and remedy, with how much of A is forgotten by the time B is learned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from consolidation.metrics import bounded_score
from reporting.intervals import mean_interval_text

BOOTSTRAP_REPS, BOOTSTRAP_SEED = 2000, 0
WITHIN = 1.5     # the criterion: B from A's weights within 1.5x the from-scratch steps


def steps_or_cap(part: dict[str, Any]) -> float:
    """Steps to the threshold, or the cap (a lower bound) when it was not reached."""
    return float(part["steps_to_threshold"] if part["reached"] else part["steps"])


def cell_row(cell: dict[str, Any]) -> dict[str, Any]:
    """One seed of one (family, remedy): the numbers the table aggregates."""
    from_a, scratch = cell["from_a"], cell["scratch"]
    ratio = steps_or_cap(from_a) / steps_or_cap(scratch)
    return {"family": cell["family"], "remedy": cell["remedy"], "seed": cell["seed"],
            "a_trained": cell["a_trained"], "a_learned": cell["a_trained"] >= cell["settings"]["threshold"],
            "b_zero_shot": cell["b_zero_shot"],
            "scratch_reached": scratch["reached"], "scratch_steps": steps_or_cap(scratch),
            "from_a_reached": from_a["reached"], "from_a_steps": steps_or_cap(from_a),
            # the ratio is a lower bound when B from A's weights never got there
            "ratio": ratio, "within": bool(from_a["reached"] and scratch["reached"] and ratio <= WITHIN),
            "forgetting": float(bounded_score(cell["a_trained"]) - bounded_score(cell["a_after_b"])),
            **{f"after_a_{k}": v for k, v in cell["diagnostics_after_a"].items()},
            # on B's own states, over the first chunk of B from A's weights (the switch's aftermath)
            "b_start_saturated_mean": from_a["curve"][0]["saturated_mean_fraction"],
            "seconds": cell["seconds"]}


def frame(cells: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([cell_row(c) for c in cells])


def _median_steps(steps: pd.Series, reached: pd.Series) -> str:
    text = f"{np.median(steps) / 1000:.0f}k"
    return text if reached.all() else f"{text} ({int(reached.sum())}/{len(reached)} reached)"


QUALIFY_SEEDS, QUALIFY_OF = 9, 10    # B within 1.5x on at least 9 of 10 seeds
MIN_FORGETTING = 0.6                 # while fine-tuning still forgets at least this much of A


def verdicts(df: pd.DataFrame) -> list[str]:
    """Per family: which remedies qualify (within 1.5x on >= 9 of 10 seeds, forgetting >= 0.6),
    which were stopped early (missed the bar on 2 seeds, so 9 of 10 was out of reach)."""
    out = []
    for family, here in df.groupby("family", sort=True):
        qualified, stopped, short = [], [], []
        for remedy, group in here.groupby("remedy", sort=True):
            misses = int((~group.within).sum())
            if len(group) >= QUALIFY_OF and int(group.within.sum()) >= QUALIFY_SEEDS:
                forgets = float(group.forgetting.mean())
                qualified.append(f"`{remedy}` (forgetting of A {forgets:.2f}"
                                 f"{'' if forgets >= MIN_FORGETTING else f', below {MIN_FORGETTING}'})")
            elif misses > QUALIFY_OF - QUALIFY_SEEDS:
                stopped.append(f"`{remedy}` (missed on {misses} of {len(group)})")
            else:
                short.append(f"`{remedy}` ({int(group.within.sum())} of {len(group)} within so far)")
        out.append(f"**{family}**: qualify (within {WITHIN}x on at least {QUALIFY_SEEDS} of {QUALIFY_OF} seeds): "
                   f"{', '.join(qualified) or 'none'}; out of reach: {', '.join(stopped) or 'none'}"
                   f"{'; not finished: ' + ', '.join(short) if short else ''}.")
    return out


def markdown(cells: Sequence[dict[str, Any]]) -> str:
    """The README table: one row per (family, remedy)."""
    if not cells:
        return "(no saved cells)"
    df = frame(cells)
    threshold = cells[0]["settings"]["threshold"]
    lines = [f"| family | remedy | seeds | A >= {threshold} | B from scratch: median steps | B from A's weights: "
             f"median steps | ratio from A / scratch, median | within {WITHIN}x | forgetting of A when B "
             "stopped (at 0.9 or the cap; bounded), mean [95% CI] | "
             "saturated bounded mean on B's states, first chunk of B | "
             "after A, on A's states: dormant / saturated hidden units, effective rank, weight norm, action std |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (family, remedy), group in df.groupby(["family", "remedy"], sort=True):
        forgetting = mean_interval_text(group.forgetting.to_numpy(), BOOTSTRAP_REPS, BOOTSTRAP_SEED)
        lines.append(
            f"| {family} | {remedy} | {len(group)} | {int(group.a_learned.sum())}/{len(group)} | "
            f"{_median_steps(group.scratch_steps, group.scratch_reached)} | "
            f"{_median_steps(group.from_a_steps, group.from_a_reached)} | {np.median(group.ratio):.2f} | "
            f"{int(group.within.sum())}/{len(group)} | {forgetting} | "
            f"{group.b_start_saturated_mean.mean():.2f} | "
            f"{group.after_a_dormant_fraction.mean():.3f} / {group.after_a_saturated_fraction.mean():.3f}, "
            f"{group.after_a_effective_rank.mean():.0f} of {int(group.after_a_feature_width.iloc[0])}, "
            f"{group.after_a_weight_norm.mean():.1f}, {group.after_a_action_std.mean():.2f} |")
    lines += [""] + verdicts(df)
    s = cells[0]["settings"]
    caps = ", ".join(f"{c['family']} {c['settings']['cap']:,}" for c in {c["family"]: c for c in cells}.values())
    steps_a = ", ".join(f"{c['family']} {c['settings']['steps_a']:,}" for c in {c["family"]: c for c in cells}.values())
    lines.append("")
    lines.append(f"A is learned for {steps_a} steps. Steps to {threshold} resolved to chunks of {s['chunk']:,}; a "
                 f"run that did not reach it counts at its cap ({caps} steps), "
                 f"so its ratio is a lower bound and it is not within {WITHIN}x. Forgetting = bounded score of A "
                 "after its wake minus after B's wake stopped (scores clipped to [-1, 1]); intervals: "
                 f"stratified bootstrap over seeds ({BOOTSTRAP_REPS} resamples). Scores on "
                 f"{s['eval_episodes']} fixed-seed episodes. Saturated bounded mean: the share of (state, action) "
                 "whose pre-tanh mean lies beyond |2| (tanh passes under 7% of the gradient), on the observations "
                 "of the rollout that ends B's first chunk. Diagnostics: agents/plasticity_diagnostics.py.")
    overrides = sorted({" ".join(c.get("overrides") or []) for c in cells})
    if overrides != [""]:
        shown = "; ".join(f"`{o}`" if o else "none" for o in overrides)
        lines.append(f"Config overrides of these cells: {shown}.")
    return "\n".join(lines)
