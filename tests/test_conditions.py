"""reporting/conditions.py on hand-built tidy frames: paired differences over common seeds."""

import math

import pandas as pd
import pytest

from reporting import conditions
from reporting.intervals import interval_verdict


def frame(values: dict[tuple[str, str, str], list[float]], seeds=range(4)) -> pd.DataFrame:
    rows = []
    for (strategy, policy, metric), per_seed in values.items():
        for seed, value in zip(seeds, per_seed, strict=True):
            rows.append({"family": "reach", "strategy": strategy, "seed": seed, "slept": True,
                         "policy": policy, "metric": metric, "value": value})
    return pd.DataFrame(rows)


def test_difference_is_paired_by_seed_and_its_interval_excludes_zero():
    first = frame({("none", "cortex", "final_first"): [0.1, 0.2, 0.3, 0.4]})
    second = frame({("none", "cortex", "final_first"): [0.6, 0.8, 0.7, 0.9]})
    row = conditions.paired_differences(first, second, reps=200, seed=0).iloc[0]
    assert row["seeds"] == 4
    assert row["first"] == pytest.approx(0.25) and row["second"] == pytest.approx(0.75)
    assert row["difference"] == pytest.approx(-0.5)
    assert row["high"] < 0
    assert interval_verdict(row["low"], row["high"]) == "lower"


def test_only_common_seeds_and_common_keys_are_compared():
    first = frame({("none", "cortex", "final_first"): [1.0, 1.0, 1.0, 1.0],
                   ("ewc", "cortex", "final_first"): [0.0, 0.0, 0.0, 0.0]})
    second = frame({("none", "cortex", "final_first"): [0.5, 0.5]}, seeds=[2, 7])
    table = conditions.paired_differences(first, second, reps=200, seed=0)
    assert list(table["strategy"]) == ["none"]
    assert table.iloc[0]["seeds"] == 1 and table.iloc[0]["difference"] == pytest.approx(0.5)


def test_constant_difference_has_a_zero_width_interval_and_nan_rows_are_na():
    first = frame({("gated", "student", "learned_second"): [0.9, 0.8, 0.7, 0.6],
                   ("gated", "student", "final_first"): [math.nan] * 4})
    second = frame({("gated", "student", "learned_second"): [0.8, 0.7, 0.6, 0.5],
                    ("gated", "student", "final_first"): [0.1] * 4})
    table = conditions.paired_differences(first, second, reps=200, seed=0).set_index("metric")
    assert table.loc["learned_second", "low"] == pytest.approx(0.1)
    assert table.loc["learned_second", "high"] == pytest.approx(0.1)
    assert table.loc["final_first", "seeds"] == 0 and math.isnan(table.loc["final_first", "difference"])
    text = conditions.markdown(table.reset_index(), "cue off", "cue on")
    assert "+0.10 [+0.10, +0.10] (higher)" in text and "n/a" in text
    never = conditions.paired_differences(frame({("none", "student", "final_first"): [math.nan] * 4}),
                                          frame({("none", "student", "final_first"): [math.nan] * 4}), reps=10, seed=0)
    assert "| none | student |" not in conditions.markdown(pd.concat([table.reset_index(), never]), "a", "b")


def test_unknown_metric_and_duplicate_seed_are_refused():
    one = frame({("none", "cortex", "final_first"): [0.1, 0.2, 0.3, 0.4]})
    with pytest.raises(ValueError, match="not allowed"):
        conditions.paired_differences(one, one, reps=10, seed=0, metrics=["nonsense"])
    doubled = pd.concat([one, one])
    with pytest.raises(ValueError, match="seed appears twice"):
        conditions.paired_differences(doubled, one, reps=10, seed=0)


def test_script_writes_the_table_and_refuses_disjoint_inputs(tmp_path, capsys):
    from reporting import tidy
    from scripts import compare_conditions

    tidy.write_csv(frame({("none", "cortex", "learned_second"): [0.9, 0.95, 0.92, 0.97]}), tmp_path / "off.csv")
    tidy.write_csv(frame({("none", "cortex", "learned_second"): [0.5, 0.55, 0.52, 0.57]}), tmp_path / "on.csv")
    tidy.write_csv(frame({("ewc", "cortex", "learned_second"): [0.5, 0.55, 0.52, 0.57]}), tmp_path / "other.csv")
    assert compare_conditions.main(["--first", str(tmp_path / "off.csv"), "--first-name", "cue off",
                                    "--second", str(tmp_path / "on.csv"), "--second-name", "cue on",
                                    "--out", str(tmp_path / "out"), "--reps", "100"]) == 0
    text = (tmp_path / "out" / "table.md").read_text()
    assert "| none | cortex | 4 |" in text and "+0.40 [" in text
    with pytest.raises(SystemExit):
        compare_conditions.main(["--first", str(tmp_path / "off.csv"), "--first-name", "a",
                                 "--second", str(tmp_path / "other.csv"), "--second-name", "b",
                                 "--out", str(tmp_path / "bad")])
    assert "share no" in capsys.readouterr().err


def tidy_label(metric: str) -> str:
    return conditions.LABELS[metric]


def test_steps_are_whole_numbers_and_fewer_seeds_are_named():
    first = frame({("none", "cortex", "steps_to_learn_second"): [40000.0, 50000.0, math.nan, 60000.0],
                   ("none", "cortex", "learned_second"): [0.9, 0.9, 0.9, 0.9]})
    second = frame({("none", "cortex", "steps_to_learn_second"): [60000.0, 70000.0, 80000.0, 80000.0],
                    ("none", "cortex", "learned_second"): [0.8, 0.8, 0.8, 0.8]})
    metrics = ["steps_to_learn_second", "learned_second"]
    table = conditions.paired_differences(first, second, reps=200, seed=0, metrics=metrics)
    text = conditions.markdown(table, "ACh", "none", metrics)
    assert "50,000 / 70,000, -20,000 [-20,000, -20,000] (lower) (3 seeds)" in text
    header = text.splitlines()[2]
    assert header.index(tidy_label("steps_to_learn_second")) < header.index(tidy_label("learned_second"))
    assert "| none | cortex | 4 |" in text


def test_script_filters_strategies_and_refuses_unknown_ones(tmp_path, capsys):
    from reporting import tidy
    from scripts import compare_conditions

    values = {("none", "cortex", "learned_second"): [0.9, 0.95, 0.92, 0.97],
              ("gated", "student", "learned_second"): [0.1, 0.1, 0.1, 0.1]}
    tidy.write_csv(frame(values), tmp_path / "a.csv")
    tidy.write_csv(frame(values), tmp_path / "b.csv")
    common = ["--first", str(tmp_path / "a.csv"), "--first-name", "a", "--second", str(tmp_path / "b.csv"),
              "--second-name", "b", "--reps", "50"]
    assert compare_conditions.main([*common, "--out", str(tmp_path / "out"), "--strategies", "none"]) == 0
    text = (tmp_path / "out" / "table.md").read_text()
    assert "| none | cortex |" in text and "gated" not in text.split("Intervals")[0]
    with pytest.raises(SystemExit):
        compare_conditions.main([*common, "--out", str(tmp_path / "bad"), "--strategies", "nonsense"])
    assert "--strategies ['nonsense'] are not allowed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare_conditions.main([*common, "--out", str(tmp_path / "bad"), "--metrics", "nonsense"])
    assert "--metrics ['nonsense'] are not allowed" in capsys.readouterr().err
