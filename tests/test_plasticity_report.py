"""reporting/plasticity.py on hand-built cells of the plasticity study."""

from __future__ import annotations

import pytest

from reporting import plasticity

DIAGNOSTICS = {"dormant_fraction": 0.0, "saturated_fraction": 0.0, "effective_rank": 30, "feature_width": 256,
               "weight_norm": 40.0, "action_std": 0.25, "saturated_mean_fraction": 0.02}


def cell(remedy: str, seed: int, from_a: int | None, scratch: int, a_trained=0.95, a_after_b=0.2) -> dict:
    def part(steps, cap=184_320):
        reached = steps is not None
        return {"reached": reached, "steps_to_threshold": steps, "steps": steps if reached else cap,
                "final_score": 0.9 if reached else 0.1, "seconds": 1.0,
                "curve": [{"steps": 10_240, "score": 0.0, **DIAGNOSTICS, "saturated_mean_fraction": 0.7}]}
    return {"family": "reach", "remedy": remedy, "seed": seed,
            "settings": {"steps_a": 150_000, "cap": 184_320, "chunk": 10_240, "threshold": 0.9, "eval_episodes": 16},
            "a_trained": a_trained, "b_zero_shot": -1.4, "a_after_b": a_after_b, "diagnostics_after_a": DIAGNOSTICS,
            "from_a": part(from_a), "scratch": part(scratch), "seconds": 10.0}


def test_ratio_is_paired_and_a_run_that_never_learned_counts_at_its_cap():
    rows = plasticity.frame([cell("none", 0, None, 51_200), cell("none", 1, 71_680, 51_200),
                             cell("head_reset", 0, 51_200, 51_200, a_after_b=-1.7)]).set_index(["remedy", "seed"])
    assert rows.loc[("none", 0), "ratio"] == pytest.approx(184_320 / 51_200)   # a lower bound
    assert not rows.loc[("none", 0), "within"]
    assert rows.loc[("none", 1), "ratio"] == pytest.approx(1.4) and rows.loc[("none", 1), "within"]
    assert rows.loc[("head_reset", 0), "forgetting"] == pytest.approx(0.95 - (-1.0))   # bounded scores
    assert rows.loc[("none", 0), "b_start_saturated_mean"] == 0.7


def test_table_counts_seeds_within_the_bar():
    text = plasticity.markdown([cell("none", 0, None, 51_200), cell("none", 1, 71_680, 51_200)])
    row = next(line for line in text.splitlines() if line.startswith("| reach | none |"))
    assert "| 2 | 2/2 | 51k | 128k (1/2 reached) | 2.50 | 1/2 |" in row
