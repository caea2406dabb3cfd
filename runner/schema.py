"""Typed schemas of every config group, registered in Hydra's ConfigStore.

Each YAML option under ``configs/`` extends one of these dataclasses (``defaults: [<group>_schema]``),
so a misspelt key or a wrong type fails at composition, before any work. Value rules that
types cannot express (ranges, allowed names, cross-field rules) are checked by the classes
the options instantiate, which all run before training starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from agents.controller import CONTROLLERS
from agents.plasticity import PLASTICITY
from consolidation.fading_memory import MEMORIES
from consolidation.novelty import NOVELTY_MODELS
from consolidation.strategies import STRATEGIES
from consolidation.wake_gating import WakeGating

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class EnvSchema:
    _target_: str = "envs.family.TaskFamily"
    family: str = MISSING
    contexts: dict[str, Any] = MISSING
    context_cue: bool = True
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    uncued: list[str] = field(default_factory=list)


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
    plasticity: Any = None     # each option of agent/plasticity extends the schema of its remedy
    diagnostics_every: int = 0


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
    """The shared-phase cache (runner/cache.py)."""

    _target_: str = "runner.cache.PhaseCache"
    dir: str = MISSING
    enabled: bool = True
    lock_timeout: float = -1.0


@dataclass
class ProgressSchema:
    """The progress lines of each phase (runner/progress.py); not part of a run's identity."""

    _target_: str = "runner.progress.Progress"
    mode: str = "auto"
    every_seconds: float = 60.0


@dataclass
class ExperimentSchema:
    _target_: str = "runner.experiment.Experiment"
    _convert_: str = "all"
    env: EnvSchema = MISSING
    agent: AgentSchema = MISSING
    consolidation: Any = MISSING  # each option extends the schema of its strategy
    protocol: ProtocolSchema = MISSING
    novelty: Any = MISSING  # each option extends the schema of its novelty model
    memory: Any = MISSING  # each option extends the schema of its memory class
    controller: Any = MISSING  # each option extends the schema of its controller class
    wake_gating: Any = MISSING  # each option extends the schema of WakeGating
    student_hidden: list[int] = field(default_factory=lambda: [32, 32])
    eval_episodes: int = 16
    seed: int = 0
    torch_threads: int = 1
    run_dir: str = "${hydra:runtime.output_dir}"
    log_formats: list[str] = field(default_factory=lambda: ["log", "csv", "tensorboard"])
    cache: CacheSchema = field(default_factory=CacheSchema)
    resume: str = "check"
    progress: ProgressSchema = field(default_factory=ProgressSchema)


def strategy_schema(cls: type) -> type:
    """The config schema of a strategy (or plasticity remedy) class: its ``Schema`` (the settings
    its constructor takes, with their defaults) plus the ``_target_`` that instantiates it."""
    target = field(default=f"{cls.__module__}.{cls.__name__}")
    return make_dataclass(f"{cls.__name__}Config", [("_target_", str, target)], bases=(cls.Schema,))


def partial_schema(cls: type) -> type:
    """The config schema of a class the experiment completes itself (a novelty model, a memory): its
    ``Schema`` plus ``_target_`` and ``_partial_: true``."""
    target = field(default=f"{cls.__module__}.{cls.__name__}")
    partial = field(default=True)
    return make_dataclass(f"{cls.__name__}Config", [("_target_", str, target), ("_partial_", bool, partial)],
                          bases=(cls.Schema,))


def register() -> None:
    """Put the schemas in Hydra's ConfigStore and the ``repo_root`` resolver in OmegaConf."""
    store = ConfigStore.instance()
    store.store(name="experiment_schema", node=ExperimentSchema)
    store.store(group="env", name="env_schema", node=EnvSchema)
    store.store(group="agent", name="agent_schema", node=AgentSchema)
    for name, cls in PLASTICITY.items():  # each plasticity remedy's settings, plus its class
        store.store(group="agent/plasticity", name=f"{name}_schema", node=strategy_schema(cls))
    for name, cls in STRATEGIES.items():  # each strategy's settings, plus the class to instantiate
        store.store(group="consolidation", name=f"{name}_schema", node=strategy_schema(cls))
    store.store(group="protocol", name="protocol_schema", node=ProtocolSchema)
    store.store(group="wake_gating", name="wake_gating_schema", node=strategy_schema(WakeGating))
    for name, cls in NOVELTY_MODELS.items():
        store.store(group="novelty", name=f"{name}_schema", node=partial_schema(cls))
    for name, cls in CONTROLLERS.items():
        store.store(group="controller", name=f"{name}_schema", node=strategy_schema(cls))
    for name, cls in MEMORIES.items():
        store.store(group="memory", name=f"{name}_schema", node=partial_schema(cls))
    if not OmegaConf.has_resolver("repo_root"):
        OmegaConf.register_new_resolver("repo_root", lambda: str(ROOT))
