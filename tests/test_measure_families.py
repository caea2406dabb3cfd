"""The measurement scripts on every family of the registry (issue 16, item 3): per-family settings, the
presets they pick, and their non-timing parts at tiny budgets on the muscle arm and the standing body
(what they save and the README blocks they write, 'not yet measured' included)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envs import REGISTERED_IDS
from envs.family import BASE_IDS
from runner import family_settings as fs
from scripts import bench_envs, interference_matrix, measure_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import benchmark  # noqa: E402
import plasticity  # noqa: E402

BLOCKS = ("interference_stand", "quick_stand", "bench_envs")
TINY_AGENT = ["agent.net_arch=[16,16]", "agent.n_envs=2", "agent.hyperparameters.n_steps=64",
              "agent.hyperparameters.batch_size=64", "agent.hyperparameters.n_epochs=1", "eval_episodes=2"]


def readme(tmp_path: Path, *blocks: str) -> Path:
    path = tmp_path / "README.md"
    path.write_text("# x\n" + "".join(f"<!-- {b}:start -->\nold\n<!-- {b}:end -->\n" for b in blocks))
    return path


def block(path: Path, name: str) -> str:
    text = path.read_text()
    return text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


def test_every_registered_family_has_its_settings_and_presets():
    assert fs.FAMILIES == tuple(BASE_IDS)
    for family in fs.FAMILIES:
        settings = fs.family_settings(family)
        assert all(REGISTERED_IDS[i][0] == family for i in settings.speed_ids)
        assert benchmark.preset("bench", family) == f"bench_{family}"
    assert benchmark.preset("quick", "stand") == "quick_stand"
    assert benchmark.preset("quick", "reach") == "quick"  # reach's quick preset is the README's experiment=quick
    assert set(bench_envs.DEFAULT_ENVS) == {i for f in fs.FAMILIES for i in fs.family_settings(f).speed_ids}


def test_experiment_names_strip_the_longest_family():
    names = benchmark.preset_names()
    assert {"bench", "quick", "bench_muscle_reach"} <= set(names) and "bench_muscle" not in names


def test_bad_settings_name_the_file_and_the_field(tmp_path, monkeypatch):
    monkeypatch.setattr(fs, "SETTINGS", tmp_path)
    (tmp_path / "stand.yaml").write_text("sb3_steps: 0\nplasticity_steps_a: 1\nplasticity_cap: 1\n"
                                         "speed_ids: [motorsleep/Stand-v0]\n")
    with pytest.raises(ValueError, match="stand.yaml: sb3_steps=0 is not allowed"):
        fs.family_settings("stand")
    (tmp_path / "stand.yaml").write_text("sb3_steps: 1\nplasticity_steps_a: 1\nplasticity_cap: 1\n"
                                         "speed_ids: [motorsleep/Reach-v0]\n")
    with pytest.raises(ValueError, match=r"speed_ids=.*registered ids of the stand family"):
        fs.family_settings("stand")
    (tmp_path / "stand.yaml").write_text("sb3_step: 1\n")
    with pytest.raises(ValueError, match="sb3_step"):
        fs.family_settings("stand")
    with pytest.raises(ValueError, match="family='walk' is not allowed"):
        fs.family_settings("walk")


def test_the_plasticity_budgets_come_from_the_settings():
    steps_a, caps = plasticity.budgets(["reach", "stand"])
    assert steps_a == {"reach": 150_000, "stand": fs.family_settings("stand").plasticity_steps_a}
    assert caps["reach"] == 184_320


def test_interference_matrix_on_the_muscle_arm_at_a_tiny_budget(tmp_path):
    """Trained on the family's unit-box envs, saved, tabulated; a missing learner says how to measure it."""
    out, path = tmp_path / "interference", readme(tmp_path, "interference_muscle_reach")
    code = interference_matrix.main(["--family", "muscle_reach", "--learner", "cortex", "--steps", "256", "--seeds",
                                     "0", "--n-eval", "2", "--out", str(out), "--override", *TINY_AGENT])
    assert code == 1  # nothing is learned in 256 steps: the criterion is not met
    saved = json.loads((out / "muscle_reach_cortex.json").read_text())
    assert saved["family"] == "muscle_reach" and saved["labels"] == ["A", "B"] and saved["contexts"]["A"] == "curl_cw"
    assert len(saved["per_seed"]) == 1 and len(saved["per_seed"][0]) == 2
    interference_matrix.main(["--family", "muscle_reach", "--from-saved", "--out", str(out), "--readme", str(path),
                              "--readme-block", "interference_muscle_reach"])
    text = block(path, "interference_muscle_reach")
    assert "**muscle_reach**, learner `cortex` (256 steps per context" in text
    assert ("**muscle_reach**, learner `sb3`: not yet measured at this revision; rebuild with `python "
            "scripts/interference_matrix.py --family muscle_reach --learner cortex sb3") in text


def test_time_to_score_takes_a_new_family(tmp_path):
    out = tmp_path / "tts.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "time_to_score.py"), "--families", "stand",
                           "--algorithms", "ppo", "--cap-seconds", "0.01", "--ppo-chunk", "64", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads(out.read_text())["runs"][0]
    assert run["family"] == "stand" and run["chunks"] and "| stand | ppo |" in done.stdout


def test_a_plasticity_cell_on_the_standing_body(tmp_path):
    cell = plasticity.run_cell("stand", "none", 0, {"overrides": TINY_AGENT, "chunk": 128, "threshold": 0.9,
                                                    "work": str(tmp_path), "steps_a": {"stand": 128},
                                                    "cap": {"stand": 128}})
    assert cell["family"] == "stand" and cell["env"]["family"] == "stand"
    assert cell["from_a"]["steps"] == 128 and not cell["from_a"]["reached"]


def test_measure_families_end_to_end_at_tiny_budgets(tmp_path):
    """Every step on stand, saved under --results, the README blocks written from the saved files."""
    path = readme(tmp_path, *BLOCKS)
    results, runs = tmp_path / "results", tmp_path / "runs"
    assert measure_families.main(["--families", "stand", "--from-saved", "--results", str(results),
                                  "--readme", str(path)]) == 0
    assert "not yet measured" in block(path, "interference_stand") and "not yet measured" in block(path, "quick_stand")
    assert block(path, "bench_envs") == "old\n"  # no saved speed: the block is left alone
    code = measure_families.main(["--families", "stand", "--seeds", "0", "--matrix-steps", "64", "--n-eval", "2",
                                  "--quick-experiment", "smoke", "--speed-steps", "1000", "--speed-repeats", "1",
                                  "--results", str(results), "--runs", str(runs), "--readme", str(path),
                                  "--", "cache.enabled=false"])
    assert code == 0
    assert {p.name for p in (results / "interference").iterdir()} == {"stand_cortex.json", "stand_sb3.json"}
    assert {p.name for p in (results / "quick_stand").iterdir()} == {"results.json", "run.json", "config.yaml"}
    speed = json.loads((results / "bench_envs.json").read_text())
    assert {"motorsleep/Stand-v0", "motorsleep/MuscleReach-v0", "Reacher-v5"} <= set(speed["results"])
    assert "learner `cortex` (64 steps per context" in block(path, "interference_stand")
    assert "learner `sb3` (64 steps per context" in block(path, "interference_stand")
    assert "## stand, seed 0" in block(path, "quick_stand") and "Phase time:" in block(path, "quick_stand")
    assert "| motorsleep/StandGravityTiltPlus-v0 | 4 |" in block(path, "bench_envs")
