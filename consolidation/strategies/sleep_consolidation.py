"""Our family of strategies: consolidate in sleep by replay and distillation into the student.

The variants (``distill``, ``replay_distill``, ``gated``, ``gated_shuffled``, ``full``) differ
only in which ingredients of :class:`consolidation.sleep.Sleep` they switch on: each narrows the
defaults of :class:`consolidation.sleep.SleepSettings` in a ``Schema`` of its own, which is also
its config schema, and is a module of its own so that a config option names one class.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from consolidation.sleep import Sleep, SleepSettings
from consolidation.strategies.base import Strategy


class SleepConsolidation(Strategy):
    """Replay and distil in sleep (:class:`consolidation.sleep.Sleep`); the cortex is left alone.

    Keyword arguments are the fields of the class's ``Schema`` (:class:`SleepSettings` with the
    variant's own defaults); a config may override any of them.
    """

    Schema = SleepSettings
    #: what the student learns from: the cortex's distributions (``teacher``) or the executed actions
    target = "teacher"
    shares_wake = True  # its wake is plain fine-tuning
    acts_through_teacher = True  # it distils whatever teacher it is given

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.phase = Sleep(SleepSettings(**{k: v for k, v in asdict(self.settings).items()
                                            if k in SleepSettings.__dataclass_fields__}), target=self.target)

    @property
    def sleep_updates(self) -> int:
        return self.settings.updates

    def sleep(self, student, memory, task, learner, seed, updates, logger=None):
        return self.phase.run(student, memory, task, learner, seed, updates=updates, logger=logger)
