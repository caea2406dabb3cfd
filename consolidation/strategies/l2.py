"""``l2``: an isotropic L2 pull of the cortical actor towards its weights after each earlier task.

The baseline EWC is measured against (Kirkpatrick et al. 2017, PNAS 114:3521, their "L2"
control: every weight equally important): (lambda / 2) sum_tasks ||theta - theta*_task||^2.

Adapted to this testbed: the cortex is an SB3 PPO or SAC learner; only its actor is anchored
(PPO: policy_net, action_net, log_std; SAC: the actor); one anchor per task, taken at the end
of its wake (a task learned again replaces its own); the penalty's gradient is added to every
cortical optimizer step in wake. No sleep.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.cortex import CorticalLearner
from consolidation.memory import EpisodicMemory
from consolidation.strategies._anchors import AnchoredPenalty
from consolidation.strategies.base import register


@register("l2")
class L2Anchor(AnchoredPenalty):
    """L2 anchoring: after each task, a copy of the actor parameters; in wake, pull towards every copy.

    Args:
        strength: lambda. Default 0.2: a starting point from one seed, not tuned
            (:data:`consolidation.strategies._anchors.CALIBRATION`). No strength tried beat plain
            fine-tuning on the quick protocol (A, B after B: 0.02 gave 0.23, 0.97; 0.2 gave 0.40,
            0.49; 2 gave 0.51, -0.77; fine-tuning 0.68, 0.83): every weight is held equally, so
            the pull slows B without protecting what A needs, the weakness EWC was built to fix.
    """

    @dataclass
    class Schema:
        strength: float = 0.2

    def on_wake_end(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> None:
        """Anchor the actor for ``task`` (importance 1 on every parameter)."""
        self.terms[str(task)] = (self.snapshot(learner), None)
