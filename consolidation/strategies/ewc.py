"""``ewc``: elastic weight consolidation of the cortical actor (Kirkpatrick et al. 2017, PNAS 114:3521).

EWC adds to the loss of each new task (lambda / 2) sum_tasks sum_i F_i (theta_i - theta*_i)^2, with
theta* the weights at the end of an earlier task and F the diagonal of their Fisher information.

Adapted to this testbed:

- the cortex is an SB3 PPO or SAC learner; only its actor is protected (PPO: policy_net,
  action_net, log_std; SAC: the actor), the critics are free (see :class:`_anchors.Actor`);
- F is the Fisher of the policy, E_s E_{a ~ pi(.|s)} [(d log pi(a|s) / d theta)^2], with s drawn
  from the episodic memory of the task just finished (up to ``fisher_samples`` states, a
  seeded subset) and one a per state sampled from the cortex's own Gaussian (not the action
  taken: the true, not the empirical, Fisher). For SAC, a is drawn before the tanh squash: the
  squash's log-Jacobian does not depend on theta, so the gradient is that of the Gaussian's
  log-density;
- the penalty's gradient is added to every cortical optimizer step in wake
  (:meth:`agents.cortex.CorticalLearner.set_wake_penalty`), after SB3's own gradient clipping;
- one (anchor, Fisher) per task, keyed by the task index: a task learned again (ABA) replaces
  its own entry.
"""

from __future__ import annotations

import math
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

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def fisher_diagonal(learner: CorticalLearner, obs: torch.Tensor, generator: torch.Generator,
                    chunk: int = 128) -> Tensors:
    """Diagonal Fisher of the cortical actor's Gaussian at ``obs``, one sampled action per state.

    Returns, per actor parameter name, the mean over states of (d log pi(a|s) / d theta)^2 with
    a ~ pi(.|s) drawn from ``generator``: non-negative, same shape as the parameter.
    """
    actor = Actor(learner)
    with torch.no_grad():
        mean, log_std = actor(obs)
        sampled = mean + log_std.exp() * torch.randn(mean.shape, generator=generator)

    def log_prob(call, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        mu, log_sigma = call(state.unsqueeze(0))
        z = (action - mu[0]) / log_sigma[0].exp()
        return (-0.5 * z.square() - log_sigma[0] - LOG_SQRT_2PI).sum()

    return per_sample_gradients(actor, log_prob, (obs, sampled), reduce=torch.square, chunk=chunk)


@register("ewc")
class EWC(AnchoredPenalty):
    """Elastic weight consolidation: after each task, the actor's anchor and diagonal Fisher.

    Args:
        strength: lambda. Default 1: a starting point from one seed, not tuned
            (:data:`consolidation.strategies._anchors.CALIBRATION`). On the quick protocol it kept
            0.84 of A where fine-tuning kept 0.68, and B still reached 0.97; 10 kept 0.91 with B at
            0.84; 0.1 protected nothing. The 1e2-1e4 usual with SAC or supervised losses freezes
            this PPO cortex (at 1 to 1000, B was not learnt in 100k steps).
        fisher_samples: memory states of the task at which F is estimated.
        seed: seeds the choice of states and the sampled actions, per task (the config ties it
            to the experiment's seed).
    """

    @dataclass
    class Schema:
        strength: float = 1.0
        fisher_samples: int = 512
        seed: int = 0

    samples_setting = "fisher_samples"

    def fisher(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> Tensors:
        """The diagonal Fisher of the actor at ``task``'s memories (deterministic given seed and task)."""
        obs, generator = self.sampled_states(memory, task, "the Fisher information")
        return fisher_diagonal(learner, obs, generator)

    def on_wake_end(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> None:
        """Anchor the actor and store the task's Fisher (replacing the task's earlier entry)."""
        self.terms[str(task)] = (self.snapshot(learner), self.fisher(learner, memory, task))
