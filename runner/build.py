"""The one way to build a run: config overrides -> composed config -> validated experiment.

``scripts/run.py`` (under Hydra's own main, for sweeps and launchers), ``scripts/benchmark.py``
and a Python user all build their experiment here, so every run directory is made alike: the
experiment carries its config identity (the phase cache's key, checked on resume) and writes
the composed config into its run directory.

    from runner.build import build_experiment
    results = build_experiment(["experiment=smoke", "seed=3"], run_dir="runs/mine").run()
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from runner.config_errors import config_keys, unknown_key
from runner.experiment import Experiment
from runner.identity import run_identity
from runner.schema import register

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


class ConfigError(ValueError):
    """A config that cannot make an experiment; the message names the field and what is allowed."""


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The config ``scripts/run.py`` would get for these overrides (without Hydra's own node)."""
    register()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def experiment_from_config(cfg: DictConfig, overrides: Sequence[str] = (),
                           hydra_config: DictConfig | None = None) -> Experiment:
    """Instantiate and validate the experiment of a composed config; no work is done yet.

    ``overrides`` (the command line that made ``cfg``) and ``hydra_config`` (Hydra's own node,
    under ``scripts/run.py``) are written beside the config in ``<run_dir>/.hydra/``.
    Raises :class:`ConfigError` for a bad config.
    """
    register()
    files = {".hydra/config.yaml": OmegaConf.to_yaml(cfg),
             ".hydra/overrides.yaml": OmegaConf.to_yaml(OmegaConf.create(list(overrides)))}
    if hydra_config is not None:
        files[".hydra/hydra.yaml"] = OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_config}))
    try:
        identity = run_identity(OmegaConf.to_container(cfg, resolve=True))
        build = instantiate(cfg, _partial_=True)  # the options are built; the experiment waits for these two:
        return build(identity=identity, config_files=files)  # plain values, not config to resolve
    except ValueError as error:  # a cross-field rule of the experiment itself
        raise ConfigError(str(error)) from error
    except InstantiationException as error:
        cause = error.__cause__ if error.__cause__ is not None else error
        raise ConfigError(_appended_key(cfg, error, cause) or str(cause)) from cause


def build_experiment(overrides: Sequence[str] = (), run_dir: str | Path | None = None) -> Experiment:
    """The experiment these config overrides describe, writing into ``run_dir`` (required unless
    the overrides set ``run_dir``: outside ``scripts/run.py`` Hydra makes no run directory)."""
    overrides = [*overrides, *([f"run_dir={Path(run_dir).resolve()}"] if run_dir is not None else [])]
    if not any(o.startswith("run_dir=") for o in overrides):
        raise ConfigError("run_dir is not set: expected build_experiment(..., run_dir=<directory>)")
    return experiment_from_config(compose_config(overrides), overrides)


def _appended_key(cfg: DictConfig, error: InstantiationException, cause: BaseException) -> str | None:
    """For a key added with ``+`` that the class does not take (``+consolidation.updatez=10``):
    the message naming it and the nearest keys the class does take; None for any other error."""
    bad = re.search(r"unexpected keyword argument '(\w+)'", str(cause)) if isinstance(cause, TypeError) else None
    if bad is None:
        return None
    where = re.search(r"full_key: (\S+)", str(error))
    node = OmegaConf.select(cfg, where.group(1)) if where else cfg
    prefix = f"{where.group(1)}." if where else ""
    valid = [f"{prefix}{key}" for key in config_keys(node) if key != bad.group(1)] if node is not None else []
    return unknown_key(f"{prefix}{bad.group(1)}", valid)
