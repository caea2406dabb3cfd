"""Every option of every config group composes against its schema and instantiates its class."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from consolidation.strategies import STRATEGIES
from runner.build import experiment_from_config
from runner.schema import register

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
GROUPS = ["env", "agent", "consolidation", "protocol", "novelty", "memory", "wake_gating", "experiment"]
register()


#: what the experiment completes a partial option with, per group
PARTIAL_ARGUMENTS = {"novelty": {"ignore_dims": []},                        # the cue's dimensions
                     "memory": {"obs_dim": 12, "action_dim": 2, "seed": 0}}  # the env's dimensions, the seed


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def compose_with(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=False)
    # outside a Hydra run the output dir is unknown: pin it for instantiation
    OmegaConf.set_struct(cfg, False)
    cfg.run_dir = "/tmp/motorsleep-compose-test"
    return cfg


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes_and_instantiates(group, option):
    cfg = compose_with(f"{group}={option}")
    if group != "experiment":
        assert cfg[group]["_target_"], f"{group}/{option} instantiates no class"
        obj = instantiate(cfg[group], _convert_="all")
        if cfg[group].get("_partial_"):  # completed by the experiment: what each group is given
            obj = obj(**PARTIAL_ARGUMENTS[group])
        assert type(obj).__module__ + "." + type(obj).__name__ == cfg[group]["_target_"]
    else:
        experiment = experiment_from_config(cfg)
        assert experiment.tasks, "the preset's protocol learns no context"


@pytest.mark.parametrize("option", options("consolidation"))
def test_a_strategy_has_one_name(option):
    """The YAML option, the registry key and what results.json records are the same word."""
    strategy = instantiate(compose_with(f"consolidation={option}").consolidation, _convert_="all")
    assert strategy.name == option and STRATEGIES[option] is type(strategy)


def test_the_sleep_length_default_is_written_once():
    """Every strategy that trains the student takes its default count of updates from one field."""
    from consolidation.sleep import StudentTraining

    default = StudentTraining.__dataclass_fields__["updates"].default
    counts = {name: cls().sleep_updates for name, cls in STRATEGIES.items() if cls().sleep_updates is not None}
    assert counts and set(counts.values()) == {default}
    keys = [line.split(":")[0].strip() for path in (CONFIGS / "consolidation").glob("*.yaml")
            for line in path.read_text().splitlines() if ":" in line and not line.lstrip().startswith("#")]
    assert keys and "updates" not in keys  # no option restates it


def test_every_option_has_a_comment_on_each_key():
    """Self-documenting configs: each non-empty key line carries a '#' comment (or opens a block)."""
    for path in CONFIGS.rglob("*.yaml"):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or stripped.startswith("- ") and "{" not in stripped:
                continue
            if stripped in ("defaults:",) or stripped.startswith("- override") or stripped.endswith("_schema"):
                continue
            opens_block = stripped.endswith(":")
            assert "#" in stripped or opens_block, f"{path.name}:{number} has no comment: {line!r}"


def test_misspelt_key_fails_at_composition():
    with pytest.raises(ConfigCompositionException, match="lerning_rate"):
        compose_with("consolidation.lerning_rate=0.1")


def test_wrong_type_fails_at_composition():
    with pytest.raises(ConfigCompositionException, match="updates"):
        compose_with("consolidation.updates=many")
