"""``online_ewc``: online EWC (Schwarz et al. 2018, "Progress & Compress", ICML; also Huszar 2018, PNAS).

Instead of one (anchor, Fisher) per task, a single running Fisher F <- gamma F + F_new and a
single anchor, the weights at the end of the latest task; the penalty is
(lambda / 2) sum_i F_i (theta_i - theta*_i)^2, so its cost does not grow with the number of tasks.

Adapted to this testbed as :mod:`consolidation.strategies.ewc` is (the cortex's actor only, the
policy's Fisher at the finished task's memories, penalty gradient added in wake). Progress &
Compress applies it to its knowledge base while distilling from an active column; here it acts
directly on the cortical learner, the system that forgets, and sleep does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.cortex import CorticalLearner
from consolidation.checks import check_number
from consolidation.memory import EpisodicMemory
from consolidation.strategies.base import register
from consolidation.strategies.ewc import EWC

KEY = "online"


@register("online_ewc")
class OnlineEWC(EWC):
    """Online EWC: one running Fisher (decayed by ``gamma`` per task) and the latest anchor.

    Args:
        strength: lambda (default 1, as :class:`EWC`: a starting point, not tuned; with two tasks
            online EWC is EWC, so the same check applies).
        gamma: decay of the earlier tasks' Fisher at each new task (1: plain sum, as EWC without
            the per-task anchors; P&C used values just below 1).
        fisher_samples: memory states of the task at which F is estimated.
        seed: seeds the choice of states and the sampled actions, per task.
    """

    @dataclass
    class Schema:
        strength: float = 1.0
        gamma: float = 0.95
        fisher_samples: int = 512
        seed: int = 0

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        check_number("gamma", self.settings.gamma, 0.0, 1.0)
        self.gamma = float(self.settings.gamma)

    def on_wake_end(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> None:
        """F <- gamma F + F_new; the anchor becomes the current actor."""
        self.anchor_running(learner, self.fisher(learner, memory, task), self.gamma, KEY)
