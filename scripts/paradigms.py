#!/usr/bin/env python
"""Tables and figure of the ABA-gap paradigm from saved runs: every condition (a controller, cue
or memory setting) at every gap k, the gap effects against k = 0, the matched controls, and the
README table "human pattern -> model outcome -> matched control" (reporting/paradigms.py).

    python scripts/paradigms.py --condition "residual, cue given=runs/aba_residual_cue_on" \\
        --condition "arbitrated, cue given=runs/aba_arbitrated_cue_on" \\
        --controls replay_distill=awake_replay --out results/paradigm_aba_gap --save-runs
    python scripts/paradigms.py --condition "residual, cue given=results/paradigm_aba_gap/seeds/residual" \\
        ... --out results/paradigm_aba_gap --readme        # rebuild from the saved copies

A condition's root holds its runs in any folders (the gap is read from each run's protocol, the
strategy from its sleep records). Writes <out>/aba_runs.csv (one row per run and measure),
summary.csv, effects.csv, report.md and aba_gap.png; --save-runs copies each run's results.json
to <out>/seeds/<condition>/gap<k>/<strategy>/seed<s>.json (not "runs/", which git ignores);
--readme writes the tables into the README's block (--readme-block).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reporting import paradigms, runs, tidy  # noqa: E402
from reporting.aba_figure import aba_figure  # noqa: E402
from reporting.readme import replace_readme_block  # noqa: E402

REPS, SEED = 2000, 0  # bootstrap resamples and their seed, as the other reports


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    conditions = dict(_pair(text, "--condition") for text in args.condition)
    controls = dict(_pair(text, "--controls") for text in args.controls)
    compare = [_pair(text, "--compare") for text in args.compare]
    unknown = [name for pair in compare for name in pair if name not in conditions]
    if unknown:
        raise SystemExit(f"--compare names {unknown}: expected condition names, one of {list(conditions)}")
    try:
        loaded = {name: runs.load_any(root) for name, root in conditions.items()}
        frame = paradigms.aba_frame(loaded)
    except ValueError as error:  # a missing root, an unreadable results.json, a seed twice
        raise SystemExit(f"paradigms: {error}") from None
    if frame.empty:
        raise SystemExit(f"no ABA-gap run under {list(conditions.values())}")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    summary = paradigms.summary(frame, REPS, SEED)
    parts = [paradigms.gap_effects(frame, REPS, SEED), paradigms.control_effects(frame, controls, REPS, SEED),
             *[paradigms.condition_effects(frame, a, b, REPS, SEED) for a, b in compare]]
    effects = pd.concat([part for part in parts if not part.empty] or parts[:1], ignore_index=True)
    for name, table in (("aba_runs", frame), ("summary", summary), ("effects", effects)):
        tidy.write_csv(table, out / f"{name}.csv")
    if args.save_runs:
        for name, found in loaded.items():
            kept = [r for r in found if runs.aba_gap(r.results) is not None]
            runs.save_copies(kept, out / "seeds" / name,
                             folders=lambda r: (f"gap{runs.aba_gap(r.results)}", r.strategy))
    figure = aba_figure(summary, out / "aba_gap.png")
    body = markdown(summary, effects, controls, figure.relative_to(ROOT) if figure.is_relative_to(ROOT) else figure)
    command = shlex.join(["python", "scripts/paradigms.py", *(sys.argv[1:] if argv is None else argv)])
    body += f"\n\nIntervals: stratified bootstrap over seeds ({REPS} resamples). Written by `{command}`."
    (out / "report.md").write_text(body + "\n")
    print(body)
    if args.readme:
        replace_readme_block(args.readme_block, body)
    return 0


def _pair(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise SystemExit(f"{flag} {text!r} is not allowed: expected NAME=VALUE")
    return name, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--condition", action="append", required=True, help="NAME=ROOT of one condition's runs")
    parser.add_argument("--controls", action="append", default=[], help="STRATEGY=CONTROL, its matched control")
    parser.add_argument("--compare", action="append", default=[], help="FIRST=SECOND, two conditions compared")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--save-runs", action="store_true", help="copy every run's results.json under <out>/seeds")
    parser.add_argument("--readme", action="store_true", help="write the tables into README.md (--readme-block)")
    parser.add_argument("--readme-block", default="paradigm_aba_gap")
    return parser


def _mean(summary: pd.DataFrame, key: tuple, measure: str, floor: bool = False) -> str:
    cell = summary[(summary["condition"] == key[0]) & (summary["strategy"] == key[1]) & (summary["gap"] == key[2])
                   & (summary["measure"] == measure)]
    if cell.empty or math.isnan(cell["mean"].iloc[0]):
        return "n/a"
    row = cell.iloc[0]
    text = f"{row['mean']:.2f} [{row['low']:.2f}, {row['high']:.2f}]"
    return f"{text} ({int(row['at_floor'])}/{int(row['seeds'])})" if floor else text


def _effect(row: pd.Series) -> str:
    if math.isnan(row["difference"]):
        return "n/a"
    return (f"{row['difference']:+.2f} [{row['low']:+.2f}, {row['high']:+.2f}], "
            f"{paradigms.verdict(row)} ({int(row['seeds'])} seeds)")


def markdown(summary: pd.DataFrame, effects: pd.DataFrame, controls: dict[str, str], figure) -> str:
    """The per-cell table, the effects table and the human-pattern table."""
    cells = summary[["condition", "strategy", "gap"]].drop_duplicates().itertuples(index=False, name=None)
    lines = ["Bounded scores of the behaviour (0 = naive baseline, 1 = reference), mean [95% bootstrap interval] over "
             "seeds; for A and B learned, in brackets the seeds at the floor (>= 0.9) of those run.", "",
             "| condition | strategy | k | A learned | B learned | A before B | A at retest | savings of A |",
             "|---|---|---|---|---|---|---|---|"]
    for key in cells:
        lines.append(f"| {key[0]} | `{key[1]}` | {key[2]} | {_mean(summary, key, 'A_learned', True)} | "
                     f"{_mean(summary, key, 'B_learned', True)} | {_mean(summary, key, 'A_before_B')} | "
                     f"{_mean(summary, key, 'A_retest')} | {_mean(summary, key, 'savings')} |")
    lines += ["", "Effects, paired by seed (difference [95% interval]; 'higher'/'lower' only when it excludes 0):", "",
              "| condition | strategy | k | against | measure | difference |", "|---|---|---|---|---|---|"]
    for _, row in effects.iterrows():
        lines.append(f"| {row['condition']} | `{row['strategy']}` | {row['gap']} | {row['against']} | "
                     f"{paradigms.MEASURES[row['measure']]} | {_effect(row)} |")
    lines += ["", *human_table(summary, effects, controls), "", f"![ABA gap]({figure})"]
    return "\n".join(lines)


def human_table(summary: pd.DataFrame, effects: pd.DataFrame, controls: dict[str, str]) -> list[str]:
    """'human pattern -> model outcome -> matched control', one row per pattern and condition,
    for the strategies that have a matched control (else every strategy), read off the effects."""
    lines = ["| human pattern | condition | model outcome (k = 1 against k = 0, paired) | matched control "
             "(same k = 1) | floor (A, B >= 0.9 on 9 of 10) |", "|---|---|---|---|---|"]
    patterns = [
        ("B right after A takes A's retention (Brashers-Krug et al. 1996)", "A_kept", 0, None),
        ("a gap before B protects A (Brashers-Krug et al. 1996; Shadmehr and Brashers-Krug 1997)", "A_retest", 1,
         "k=0"),
        ("a gap before B keeps the savings on relearning A (Brashers-Krug et al. 1996)", "savings", 1, "k=0"),
    ]
    strategies = list(controls) or sorted(summary["strategy"].unique())
    for condition in summary["condition"].unique():
        for strategy in strategies:
            if summary[(summary["condition"] == condition) & (summary["strategy"] == strategy)].empty:
                continue
            for text, measure, gap, against in patterns:
                floor = _floor(summary, condition, strategy, sorted({gap, 0}))
                if against is None:
                    outcome = f"A kept at k = 0: {_mean(summary, (condition, strategy, 0), measure)}"
                else:
                    outcome = _pick(effects, condition, strategy, gap, against, measure)
                control = controls.get(strategy)
                matched = _pick(effects, condition, strategy, gap, control, measure) if control else "none run"
                lines.append(f"| {text} | {condition}, `{strategy}` | {outcome} | "
                             f"{f'against `{control}`: ' if control else ''}{matched} | {floor} |")
    return lines


def _floor(summary: pd.DataFrame, condition: str, strategy: str, gaps: list[int]) -> str:
    """'met' when A and B reached the floor at every one of ``gaps``, else which k missed it."""
    mine = summary[(summary["condition"] == condition) & (summary["strategy"] == strategy)]
    missing = [k for k in gaps if mine[mine["gap"] == k].empty]
    if missing:
        return f"k = {', '.join(map(str, missing))} not run"
    failed = [k for k in gaps if not paradigms.floor_met(summary, condition, strategy, k)]
    return f"**not met** at k = {', '.join(map(str, failed))}" if failed else "met"


def _pick(effects: pd.DataFrame, condition: str, strategy: str, gap: int, against: str | None, measure: str) -> str:
    row = effects[(effects["condition"] == condition) & (effects["strategy"] == strategy) & (effects["gap"] == gap)
                  & (effects["against"] == against) & (effects["measure"] == measure)]
    return "not run" if row.empty else _effect(row.iloc[0])


if __name__ == "__main__":
    raise SystemExit(main())
