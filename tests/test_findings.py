"""reporting/findings.py: the sentences of the headline, from a hand-built tidy frame, with
their numbers and verdicts worked by hand."""

from __future__ import annotations

import pandas as pd

from reporting import findings
from reporting.tidy import COLUMNS

REPS, SEED = 500, 0


def frame_of(values: dict[tuple[str, str, str], list[float]], family: str = "reach") -> pd.DataFrame:
    """(strategy, policy, metric) -> per-seed values, as a runs.csv frame."""
    rows = [{"family": family, "strategy": strategy, "seed": seed, "slept": policy == "student", "policy": policy,
             "metric": metric, "value": value}
            for (strategy, policy, metric), per_seed in values.items() for seed, value in enumerate(per_seed)]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_fine_tuning_sentences_count_the_seeds_that_learned():
    frame = frame_of({("none", "cortex", "final_first"): [0.1, 0.2, 0.3, 0.4],
                      ("none", "cortex", "learned_first"): [0.95, 0.92, 0.85, 0.99],
                      ("none", "cortex", "learned_second"): [0.2, 0.95, 0.1, 0.3],
                      ("none", "cortex", "retention_drop_first"): [0.8, 0.8, 0.8, 0.8]})
    text = findings.markdown(frame, REPS, SEED)
    assert "A is learned to 0.9 on 3 of 4 seeds (0.93 [" in text
    assert "B on 1 of 4 seeds (0.39 [" in text
    assert "**Fine-tuning forgets** 0.80 [0.80, 0.80] of A" in text


def test_a_paired_difference_says_lower_only_when_its_interval_excludes_zero():
    base = [0.9, 0.8, 0.85, 0.95, 0.9]
    worse = [v - 0.05 for v in base]                 # lower on every seed by exactly 0.05
    mixed = [0.95, 0.75, 0.9, 0.9, 0.9]              # differences +0.05 -0.05 +0.05 -0.05 0
    metrics = {("replay_distill", "student", "final_first"): base,
               ("replay_distill", "student", "learned_second"): base,
               ("gated", "student", "final_first"): worse, ("gated", "student", "learned_second"): mixed}
    said = findings.Findings(frame_of(metrics), "reach", REPS, SEED)
    assert said.paired("gated", "replay_distill", "student", "final_first") == \
        "-0.050 [-0.050, -0.050] (lower; lower on 5 of 5 seeds)"
    assert said.paired("gated", "replay_distill", "student", "learned_second").endswith(
        "(no difference detected; lower on 2 of 5 seeds)")
    assert "**Gating** (`gated` minus `replay_distill`" in findings.markdown(frame_of(metrics), REPS, SEED)


def test_pairs_are_matched_by_seed_not_by_position():
    frame = frame_of({("replay_distill", "student", "final_first"): [0.5, 0.9],
                      ("gated", "student", "final_first"): [0.5, 0.9]})
    frame = frame[~((frame["strategy"] == "gated") & (frame["seed"] == 0))]    # gated lacks seed 0
    said = findings.Findings(frame, "reach", REPS, SEED)
    assert said.paired("gated", "replay_distill", "student", "final_first").startswith("+0.000 [+0.000, +0.000]")


def test_the_best_average_is_the_highest_mean_and_baselines_read_pc_by_its_student():
    frame = frame_of({("multitask", "cortex", "bounded_average_performance"): [0.9, 0.8],
                      ("clear", "cortex", "bounded_average_performance"): [0.4, 0.5],
                      ("clear", "cortex", "final_first"): [1.0, 1.0],
                      ("clear", "cortex", "retention_drop_first"): [0.0, 0.0],
                      ("clear", "cortex", "learned_second"): [-0.5, -0.7],
                      ("progress_compress", "cortex", "final_first"): [-1.0, -1.0],
                      ("progress_compress", "student", "final_first"): [0.5, 0.5],
                      ("progress_compress", "student", "retention_drop_first"): [0.4, 0.4],
                      ("progress_compress", "student", "learned_second"): [0.9, 0.9]})
    text = findings.markdown(frame, REPS, SEED)
    assert "**Best average performance** (bounded): `multitask` cortex 0.85 [0.80, 0.90]; then `clear` cortex" in text
    assert "`clear` (cortex) A lost 0.00 [0.00, 0.00], B learned -0.60 [" in text
    assert "`progress_compress` (student) A lost 0.40 [0.40, 0.40], B learned 0.90 [0.90, 0.90]" in text


def test_the_ceiling_sentence_names_the_highest_raw_score_and_counts_those_above_it():
    frame = frame_of({("none", "cortex", "max_raw_score"): [0.97, 1.00, 0.99],
                      ("full", "student", "max_raw_score"): [1.02, 1.48, 1.06]})
    text = findings.markdown(frame, REPS, SEED)
    assert "is 1.48 (`full` student, seed 1); 2 of 6 (run, policy) pairs score above 1.05" in text
    below = frame_of({("none", "cortex", "max_raw_score"): [0.97, 1.00, 1.05]})
    assert "0 of 3 (run, policy) pairs" in findings.markdown(below, REPS, SEED)


def test_sleep_against_fine_tuning_pairs_each_student_with_the_fine_tuned_cortex():
    frame = frame_of({("none", "cortex", "final_first"): [-1.0, -0.8, -0.9],
                      ("none", "cortex", "learned_first"): [0.95, 0.95, 0.95],
                      ("none", "cortex", "learned_second"): [0.95, 0.95, 0.95],
                      ("none", "cortex", "retention_drop_first"): [1.9, 1.7, 1.8],
                      ("replay_distill", "student", "final_first"): [0.8, 1.0, 0.9],
                      ("replay_distill", "student", "learned_second"): [0.9, 0.9, 0.9],
                      ("distill", "student", "final_first"): [-1.0, -0.8, -0.9],
                      ("distill", "student", "learned_second"): [0.9, 0.9, 0.9]})
    text = findings.markdown(frame, REPS, SEED)
    assert "`replay_distill` +1.800 [+1.800, +1.800] (higher; lower on 0 of 3 seeds)" in text
    assert "`distill` +0.000 [+0.000, +0.000] (no difference detected; lower on 0 of 3 seeds)" in text


def test_plasticity_counts_seeds_within_the_bar_and_b_curves_that_never_got_there():
    nan = float("nan")
    frame = frame_of({("none", "cortex", "final_first"): [0.0] * 5,
                      ("none", "cortex", "learned_first"): [0.95] * 5,
                      ("none", "cortex", "learned_second"): [0.95] * 5,
                      ("none", "cortex", "retention_drop_first"): [0.9] * 5,
                      # A from scratch: 100k steps on four seeds; seed 4's curve never reached 0.9
                      ("none", "cortex", "steps_to_learn_first"): [100e3, 100e3, 100e3, 100e3, nan],
                      # B from A's weights: 0.6x, 1.5x (on the bar), 1.6x, never
                      ("none", "cortex", "steps_to_learn_second"): [60e3, 150e3, 160e3, nan, 50e3]})
    text = findings.Findings(frame, "reach", REPS, SEED).plasticity()
    assert "within 1.5x the steps A took from scratch on 2 of 4 seeds" in text
    assert "median ratio 1.55" in text            # of 0.6, 1.5, 1.6 and never (infinite)
    assert "never reached 0.9 on 1)" in text
    assert "**Plasticity**" in findings.markdown(frame, REPS, SEED)
