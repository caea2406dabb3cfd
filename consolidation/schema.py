"""Typed schemas of every config group, registered in Hydra's ConfigStore.

Each YAML option under ``configs/`` extends one of these dataclasses (``defaults: [<group>_schema]``),
so a misspelt key or a wrong type fails at composition, before any work. Value rules that
types cannot express (ranges, allowed names, cross-field rules) are checked by the classes
the options instantiate, which all run before training starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class EnvSchema:
    _target_: str = "envs.family.TaskFamily"
    family: str = MISSING
    contexts: dict[str, Any] = MISSING
    context_cue: bool = True
    env_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class AgentSchema:
    _target_: str = "agents.cortex.CorticalLearner"
    algorithm: str = "ppo"
    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    n_envs: int = 8
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    progress_bar: bool = False
    bounded_mean: bool = True
    reset_optimizer_on_switch: bool = True


@dataclass
class GatingSchema:
    mode: str = "on"
    dopamine_weight: float = 1.0
    acetylcholine_weight: float = 1.0
    gain_min: float = 0.25
    gain_max: float = 4.0
    priority_exponent: float = 0.6


@dataclass
class StrategySchema:
    """A strategy without parameters (e.g. ``none``)."""

    _target_: str = MISSING


@dataclass
class SleepSchema:
    """Our sleep strategies (consolidation/strategies/sleep_consolidation.py)."""

    _target_: str = MISSING
    updates: int = 2000
    batch_size: int = 256
    learning_rate: float = 1e-3
    loss: str = "kl"
    interleave: bool = True
    gating: GatingSchema = field(default_factory=GatingSchema)
    downscaling: float = 1.0
    holdout_fraction: float = 0.1
    max_loss: float = 1e6
    log_every: int = 50


@dataclass
class PhaseSchema:
    kind: str = MISSING
    context: str | None = None
    steps: int | None = None
    updates: int | None = None


@dataclass
class ProtocolSchema:
    _target_: str = "consolidation.protocol.Protocol"
    phases: list[PhaseSchema] = MISSING
    test_after_every_phase: bool = True


@dataclass
class CacheSchema:
    """The shared-phase cache (consolidation/cache.py)."""

    _target_: str = "consolidation.cache.PhaseCache"
    dir: str = MISSING
    enabled: bool = True
    lock_timeout: float = -1.0


@dataclass
class ExperimentSchema:
    _target_: str = "consolidation.experiment.Experiment"
    _convert_: str = "all"
    env: EnvSchema = MISSING
    agent: AgentSchema = MISSING
    consolidation: Any = MISSING  # each option extends the schema of its strategy
    protocol: ProtocolSchema = MISSING
    student_hidden: list[int] = field(default_factory=lambda: [32, 32])
    memory_capacity: int = 20_000
    eval_episodes: int = 16
    seed: int = 0
    torch_threads: int = 1
    run_dir: str = "${hydra:runtime.output_dir}"
    log_formats: list[str] = field(default_factory=lambda: ["log", "csv", "tensorboard"])
    cache: CacheSchema = field(default_factory=CacheSchema)


def register() -> None:
    """Put the schemas in Hydra's ConfigStore and the ``repo_root`` resolver in OmegaConf."""
    store = ConfigStore.instance()
    store.store(name="experiment_schema", node=ExperimentSchema)
    store.store(group="env", name="env_schema", node=EnvSchema)
    store.store(group="agent", name="agent_schema", node=AgentSchema)
    store.store(group="consolidation", name="sleep_schema", node=SleepSchema)
    store.store(group="consolidation", name="strategy_schema", node=StrategySchema)
    from consolidation.strategies import STRATEGIES  # strategies declare their own schemas

    for name, cls in STRATEGIES.items():
        schema = getattr(cls, "Schema", None)
        if schema is not None:
            store.store(group="consolidation", name=f"{name}_schema", node=schema)
    store.store(group="protocol", name="protocol_schema", node=ProtocolSchema)
    if not OmegaConf.has_resolver("repo_root"):
        OmegaConf.register_new_resolver("repo_root", lambda: str(ROOT))
