"""Our family of strategies: consolidate in sleep by replay and distillation into the student.

The variants (``distill``, ``replay_distill``, ``gated``, ``full``) differ only in which
ingredients of :class:`consolidation.sleep.Sleep` they switch on; each is a module of its
own so that a config option names one class.
"""

from __future__ import annotations

from typing import Any

from consolidation.sleep import Sleep
from consolidation.strategies.base import Strategy


class SleepConsolidation(Strategy):
    """Replay and distil in sleep (:class:`consolidation.sleep.Sleep`); the cortex is left alone.

    Keyword arguments are those of :class:`consolidation.sleep.Sleep`; a subclass sets its own
    defaults in ``DEFAULTS`` and a config may override any of them.
    """

    DEFAULTS: dict[str, Any] = {}
    shares_wake = True  # its wake is plain fine-tuning

    def __init__(self, **sleep_kwargs: Any) -> None:
        self.phase = Sleep(**{**self.DEFAULTS, **sleep_kwargs})

    def sleep(self, student, memory, task, learner, seed, logger=None, updates=None):
        phase = self.phase if updates is None else self.phase.with_updates(updates)
        return phase.run(student, memory, task, learner, seed, logger)
