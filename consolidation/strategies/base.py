"""The strategy contract: the few hooks through which a consolidation variant or a baseline acts.

Every strategy (ours, the continual-learning baselines, the ablations) is a subclass of
:class:`Strategy` registered under its config name. The experiment calls the hooks at fixed
points of the protocol; each hook may change only what its docstring names, and
``tests/test_strategies.py`` checks that contract for every registered strategy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from agents.cortex import CorticalLearner
from agents.subcortical import SubcorticalPolicy
from consolidation.memory import EpisodicMemory

STRATEGIES: dict[str, type[Strategy]] = {}


def register(name: str):
    """Class decorator: put a strategy in the registry under ``name`` (its config option)."""
    def decorate(cls: type[Strategy]) -> type[Strategy]:
        if name in STRATEGIES and STRATEGIES[name] is not cls:
            raise ValueError(f"strategy name {name!r} is registered twice")
        cls.name = name
        STRATEGIES[name] = cls
        return cls
    return decorate


class Strategy:
    """Base class: every hook does nothing, so a subclass overrides only what it changes.

    Hooks, in the order the experiment calls them, with what each may change:

    - :meth:`plain_wake` (wake start): whether this wake is plain fine-tuning (the phase cache
      may then reuse another strategy's). Changes nothing.
    - :meth:`wake_contexts` (wake start): which contexts the wake env mixes. Changes nothing.
    - :meth:`on_wake_start`: may change the cortical learner's weights and optimizer state.
      Not the memory, not the student.
    - :meth:`wake_penalty` (every cortical optimizer step): returns a differentiable loss whose
      gradient is added before the step. Changes nothing itself.
    - :meth:`wake_callbacks` (wake start): SB3 callbacks run during the wake; they may change
      the student only (the awake control of replay), never the learner or the memory.
    - :meth:`on_wake_end`: may change only the strategy's own state (anchors, importances),
      reading the learner and the memory.
    - :meth:`sleep` (sleep phases): may change the student and the cortical targets of
      ``task``'s memories (relabelling). Never the cortical learner's weights.
    - :meth:`state_dict` / :meth:`load_state_dict`: the strategy's own state, saved with each
      phase's checkpoint so that a resumed run continues exactly.
    """

    name = "base"
    #: True only for controls that interact with the env outside wake (the awake control):
    #: every other strategy's sleep must take no env step.
    takes_env_steps = False
    #: True when the strategy reaches the cortex only through the teacher its sleep (or wake
    #: callbacks) are given and the plain wake: it then works under any wake controller,
    #: the residual one included (agents/controller.py). Others are refused there by name.
    acts_through_teacher = False
    #: True only when every wake hook is the base class's no-op, i.e. the wake is plain
    #: fine-tuning: the shared-phase cache then reuses the wake phases of any other such
    #: strategy (runner/cache.py). tests/test_strategies.py checks the claim.
    shares_wake = False

    @dataclass
    class Schema:
        """The strategy's settings: its constructor's keywords with their defaults, and the typed
        schema its config option extends (a strategy without settings keeps this empty one)."""

    def __init__(self, **settings: Any) -> None:
        self.settings = self.Schema(**settings)

    @property
    def sleep_updates(self) -> int | None:
        """Student updates of a sleep phase that does not set its own (None: this strategy does not sleep)."""
        return None

    def plain_wake(self, task: int) -> bool:
        """Whether the coming wake on ``task`` is plain fine-tuning: the default contexts,
        :meth:`on_wake_start` neither reads nor changes the learner and :meth:`wake_penalty`
        stays None. The phase cache then shares the wake with every other strategy and runs
        this strategy's :meth:`on_wake_start` and :meth:`on_wake_end` on the loaded cortex, so
        they must not depend on the global random state. Default: :attr:`shares_wake`."""
        return self.shares_wake

    def wake_contexts(self, context: str, protocol_contexts: list[str]) -> list[str]:
        """Contexts stepped together in this wake phase (default: the phase's own)."""
        return [context]

    def on_wake_start(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> None:
        """Before the cortex trains on ``task``."""

    def wake_penalty(self, learner: CorticalLearner) -> torch.Tensor | None:
        """An extra loss on the cortical parameters during wake (None: no penalty)."""
        return None

    def wake_callbacks(self, teacher, memory: EpisodicMemory, task: int, student: SubcorticalPolicy,
                       updates: int, steps: int, seed: int) -> list:
        """SB3 callbacks run beside the cortex's training on ``task`` (a wake of ``steps`` env
        steps); ``teacher`` is what sleep would distil (the wake controller's behaviour:
        :mod:`agents.controller`), ``updates`` the student updates of the sleeps that follow this
        wake before the next one. The one channel through which a strategy may change the *student* in wake (the
        matched awake control of replay); default: none. A strategy that returns any must not
        claim :attr:`shares_wake` or :meth:`plain_wake`."""
        return []

    def on_wake_end(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> None:
        """After the cortex trained on ``task``."""

    def sleep(self, student: SubcorticalPolicy, memory: EpisodicMemory, task: int, learner: CorticalLearner,
              seed: int, updates: int, logger=None):
        """One offline phase of ``updates`` student updates (the protocol phase's count, resolved
        against :attr:`sleep_updates` by the protocol); return a
        :class:`consolidation.sleep.SleepReport`, or None for no sleep."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """Tensors and numbers only (saved with ``torch.save``, loaded with ``weights_only=True``)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
