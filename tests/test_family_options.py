"""The options env=muscle_reach and env=stand with every strategy and every paradigm preset (issue 16,
item 4): each composes and builds its experiment, or is refused with a message naming the field; a
few strategies and one paradigm per family run at tiny budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.build import ConfigError, build_experiment, compose_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
NEW_FAMILIES = ("muscle_reach", "stand")


def options(group: str, pattern: str = "*.yaml") -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob(pattern))


# preset -> family -> None (it applies) or the words its refusal must hold (the field and the value)
PARADIGMS = {
    **{f"paradigm_aba_gap{k}": {"muscle_reach": None,   # the curl fields of +-30 N s/m on the muscle arm
                                "stand": ["env.contexts.A", "curl_field"]} for k in (0, 1, 2, 4)},
    **{f"paradigm_rotation_{n}": {"muscle_reach": None,  # the rotations and the washout of the reach family
                                  "stand": ["env.contexts.A", "rot_plus30"]} for n in ("2x", "counter", "washout")},
    # stand's gravity tilt field takes balance's +-20 degrees (a body the motors cannot hold there: README)
    "paradigm_balance_switching": {"muscle_reach": ["env.contexts.A", "gravity_tilt_deg"], "stand": None},
}

# tiny budgets, as experiment=smoke sets them, for a paradigm preset's own protocol
TINY = ["agent.net_arch=[64,64]", "agent.n_envs=2", "agent.hyperparameters.n_steps=64",
        "agent.hyperparameters.batch_size=64", "agent.hyperparameters.n_epochs=2", "student_hidden=[8,8]",
        "eval_episodes=2", "cache.enabled=false", "progress.mode=off", "log_formats=[csv]"]


def test_every_paradigm_preset_is_listed():
    assert sorted(PARADIGMS) == options("experiment", "paradigm_*.yaml")


@pytest.mark.parametrize("family", NEW_FAMILIES)
@pytest.mark.parametrize("option", options("consolidation"))
def test_every_strategy_builds_on_the_family(family, option, tmp_path):
    experiment = build_experiment([f"env={family}", f"consolidation={option}", "cache.enabled=false"],
                                  run_dir=tmp_path / "run")
    assert experiment.family.family == family and experiment.strategy.name == option


@pytest.mark.parametrize("family", NEW_FAMILIES)
@pytest.mark.parametrize("preset", sorted(PARADIGMS))
def test_every_paradigm_preset_builds_or_names_the_field(family, preset, tmp_path):
    refusal = PARADIGMS[preset][family]
    overrides = [f"experiment={preset}", f"env={family}", "cache.enabled=false"]
    if refusal is None:
        experiment = build_experiment(overrides, run_dir=tmp_path / "run")
        assert experiment.family.family == family
    else:
        with pytest.raises(ConfigError) as error:
            build_experiment(overrides, run_dir=tmp_path / "run")
        assert all(word in str(error.value) for word in refusal), str(error.value)


def test_balance_switching_takes_the_stand_tilts_from_the_command_line(tmp_path):
    """The README's way to run the switching paradigm on stand at tilts its motors can hold."""
    experiment = build_experiment(["experiment=paradigm_balance_switching", "env=stand", "cache.enabled=false",
                                   "env.contexts.A=gravity_tilt_minus", "env.contexts.B=gravity_tilt_plus"],
                                  run_dir=tmp_path / "run")
    assert experiment.family.contexts == {"A": "gravity_tilt_minus", "B": "gravity_tilt_plus"}


@pytest.mark.parametrize("family", NEW_FAMILIES)
@pytest.mark.parametrize("option", ["none", "replay_distill", "ewc", "clear", "multitask"])
def test_strategies_run_on_the_family(family, option, tmp_path):
    results = build_experiment(["experiment=smoke", f"env={family}", f"consolidation={option}", "cache.enabled=false",
                                "progress.mode=off", "log_formats=[csv]"], run_dir=tmp_path / "run").run()
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["family"] == saved["family"] == family
    assert len(saved["R"]["cortical"]) == len(saved["rows"]) and len(saved["R"]["cortical"][0]) == 2


@pytest.mark.parametrize("family,preset", [("muscle_reach", "paradigm_rotation_washout"),
                                           ("stand", "paradigm_balance_switching")])
def test_a_paradigm_runs_on_the_family(family, preset, tmp_path):
    phases = compose_config([f"experiment={preset}"]).protocol.phases  # the preset's own protocol, shortened
    tiny = [f"protocol.phases.{i}.{'steps=128' if phase.kind == 'wake' else 'updates=10'}"
            for i, phase in enumerate(phases)]
    results = build_experiment([f"experiment={preset}", f"env={family}", *TINY, *tiny], run_dir=tmp_path / "run").run()
    assert results["family"] == family
    assert results["rows"] == [f"wake_{p.context}" if p.kind == "wake" else p.kind for p in phases]  # a test after each
