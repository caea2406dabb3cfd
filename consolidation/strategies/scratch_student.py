"""``scratch_student``: ablation: the same student trained on the same replay, but without a teacher.

DESIGN.md section 3's "same-size student trained from scratch on the same data": is the
cortical teacher needed at all, or would the small network learn as well by imitating the
agent's own behaviour? This strategy keeps everything of ``replay_distill`` (the student's
size, the interleaved replay of every task, uniform sampling, the seed-for-seed same batches,
the number of updates, the batch size and the step size) and changes only the target: the
actions the agent executed in wake (stored by :mod:`consolidation.tagging`) instead of the
cortex's action distribution. No relabelling (the cortex is never called in sleep), no gating.

It is behaviour cloning in the sense of Pomerleau (1989) and of the cloning loss of Rolnick
et al. (2019), applied offline to the episodic memory. The loss (``nll``, default) is the
negative log-likelihood of the executed action under the student's Gaussian: its expectation
is the distillation KL plus a constant, so the two students pursue the same optimum and the
ablation isolates one sampled action per state versus the full distribution (see
:func:`consolidation.sleep.taken_action_loss`; ``mse`` fits the deterministic action instead).
The held-out KL in its report is to the distributions stored at tagging, i.e. to the
behaviour policy that produced the actions, which this student never sees.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from consolidation.sleep import Sleep, SleepSettings, StudentTraining
from consolidation.strategies.base import Strategy, register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("scratch_student")
class ScratchStudent(SleepConsolidation):
    """Sleep strategy: behaviour cloning of executed actions with uniform interleaved replay (no teacher).

    Args: those of :class:`consolidation.sleep.StudentTraining` plus ``holdout_fraction``; replay
    is always interleaved and uniform (gating off), the target always the executed actions.
    """

    @dataclass
    class Schema(StudentTraining):
        loss: str = "nll"
        holdout_fraction: float = 0.1

    target = "taken_actions"
    acts_through_teacher = False  # it clones the memories' executed actions: the cortex's alone

    def __init__(self, **settings: Any) -> None:
        Strategy.__init__(self, **settings)  # its own Schema, not SleepSettings: the Sleep is built here
        self.phase = Sleep(SleepSettings(**asdict(self.settings), interleave=True, gating={"mode": "off"}),
                           target=self.target)
