"""``mas``: Memory Aware Synapses on the cortical actor (Aljundi et al. 2018, ECCV).

MAS measures how sensitive the learned function is to each parameter, with no labels and no
loss: Omega_i = E_x |d ||F(x)||^2 / d theta_i| over the data of a task, accumulated (summed)
over tasks, and penalises (lambda / 2) sum_i Omega_i (theta_i - theta*_i)^2 with theta* the
weights after the latest task (the paper writes lambda without the 1/2).

Adapted to this testbed: the cortex is an SB3 PPO or SAC learner; F(x) is its actor's
deterministic action (PPO: the Gaussian's mean, tanh-bounded by default; SAC: tanh of the
pre-squash mean), x the states of the finished task's episodic memory (up to ``samples``, a
seeded subset), gradients per state. Parameters the mean does not depend on (PPO's log_std,
SAC's log-std head) get Omega = 0 and stay free. The penalty's gradient is added to every
cortical optimizer step in wake. No sleep.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agents.cortex import CorticalLearner
from consolidation.memory import EpisodicMemory
from consolidation.strategies._anchors import (
    Actor,
    AnchoredPenalty,
    Tensors,
    per_sample_gradients,
)
from consolidation.strategies.base import register

KEY = "latest"


def mas_importance(learner: CorticalLearner, obs: torch.Tensor, chunk: int = 128) -> Tensors:
    """Omega: mean over ``obs`` of |d ||deterministic action||^2 / d theta|, per actor parameter."""
    actor = Actor(learner)

    def squared_norm(call, state: torch.Tensor) -> torch.Tensor:
        mean, _ = call(state.unsqueeze(0))
        action = torch.tanh(mean) if actor.sac else mean
        return action.square().sum()

    return per_sample_gradients(actor, squared_norm, (obs,), reduce=torch.abs, chunk=chunk)


@register("mas")
class MAS(AnchoredPenalty):
    """Memory Aware Synapses: importances accumulated over tasks, anchor at the latest task's end.

    Args:
        strength: lambda. Default 4: a starting point from one seed, not tuned
            (:data:`consolidation.strategies._anchors.CALIBRATION`). Omega is much smaller than
            EWC's Fisher on this cortex (unit-lambda gradient 0.13 against 5.7), hence a larger
            lambda. On the quick protocol 4 kept 0.78 of A (fine-tuning: 0.68) with B at 0.60;
            40 kept 0.94 but B was not learnt (-0.87).
        samples: memory states of the task at which Omega is estimated.
        seed: seeds the choice of states, per task.
    """

    @dataclass
    class Schema:
        strength: float = 4.0
        samples: int = 1024
        seed: int = 0

    samples_setting = "samples"

    def importance(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> Tensors:
        """Omega of ``task`` alone (deterministic given seed and task)."""
        obs, _ = self.sampled_states(memory, task, "the importances")
        return mas_importance(learner, obs)

    def on_wake_end(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> None:
        """Omega <- Omega + Omega_task; the anchor becomes the current actor."""
        self.anchor_running(learner, self.importance(learner, memory, task), 1.0, KEY)
