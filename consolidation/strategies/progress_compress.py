"""``progress_compress``: Progress & Compress (Schwarz et al. 2018), with the cortex as the active
column and the subcortical student as the knowledge base.

Schwarz, Luketina, Czarnecki, Grabska-Barwinska, Teh, Pascanu and Hadsell (2018), "Progress &
Compress: a scalable framework for continual learning", ICML. Each task is learned in two
phases: *progress*, where an active column learns the task by RL, and *compress*, where the
active column is distilled into a knowledge base, KL(active || knowledge base) on the task's
states, under an online-EWC penalty that protects what the knowledge base already holds:

    loss = E_s[KL(pi_active(.|s) || pi_kb(.|s))] + (lambda / 2) sum_i gamma F*_i (theta_i - theta*_i)^2
    after the compress of task k:  F* <- gamma F* + F_k,  theta* <- theta_kb

with F_k the diagonal Fisher of the knowledge base's policy at task k's states, at its weights
after that compress. The knowledge base is the agent scored as P&C (the subcortical rows of R).

How it maps onto our protocol, and what is adapted:

- Progress = wake: the cortex learns the task with SB3 as every strategy's does.
- Compress = sleep: :class:`consolidation.sleep.Sleep` with the penalty passed as its
  ``extra_loss``, so the student's loop (relabelling of the task's memories by the final
  cortex, replay sampling, held-out split, divergence check, logging) is exactly our sleep's.
  Defaults follow the paper: the task just learned only (``interleave: false``), uniform
  replay (``gating.mode: off``). The paper distils on states visited while running the
  policies in the environment; here the states are the wake's stored memories, so sleep
  takes no env step.
- The Fisher is exact in the actions: for the student's diagonal Gaussian,
  E_a[(d log pi / d theta_i)^2] = sum_k (d mu_k / d theta_i)^2 / sigma_k^2
  + 2 (d log sigma_k / d theta_i)^2, averaged over at most ``fisher_states`` of the task's
  stored states; no actions are sampled.
- Active-column reset: before the wake of every new task (a task other than the previous
  wake's), the cortex's actor (and, with ``reset_critic``, its critic) is re-initialised as
  SB3 initialises a new policy, and all its optimizers' states are cleared. A protocol that
  does not sleep between two tasks therefore loses the first from both networks, as P&C would.
  With SAC the entropy coefficient is kept.
- No lateral connections. In P&C the active column receives layer-wise adaptors from the
  frozen knowledge base, which is where its forward transfer comes from (a new task learned
  faster by reusing old features). Our cortex is an SB3 network and our knowledge base is far
  smaller than it, so the active column learns each task alone: from scratch with the reset,
  or from the previous task's weights without it. What is lost is forward transfer from the
  knowledge base to the active column; the compress side (retention in the knowledge base) is
  intact.
- ``ewc_lambda`` scale: with the exact Fisher and a per-sample mean KL, lambda = 1 is the
  second-order expansion of the old tasks' KL weighted like the new task's; in practice that
  protects too little. The default 10 comes from one offline sweep (seed 0, the quick run's
  checkpoint after wake B, 2000 compress updates; student's scores on A / B): lambda 0 gives
  0.04 / 1.01, 1 gives 0.66 / 1.00, 5 gives 0.79 / 1.00, 10 gives 0.89 / 0.92, 20 gives
  0.96 / 0.05, 100 gives 1.01 / -1.42. The sleep report's loss curve includes the penalty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.func import functional_call, jacrev, vmap

from agents.cortex import CorticalLearner
from agents.subcortical import SubcorticalPolicy
from consolidation.neuromodulation import GatingSettings
from consolidation.sleep import SleepSettings
from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation

#: state_dict keys of the SB3 policies that belong to the critic (every other key is the actor's)
CRITIC_PREFIXES = ("mlp_extractor.value_net.", "value_net.", "vf_features_extractor.", "critic.", "critic_target.")


@register("progress_compress")
class ProgressCompress(SleepConsolidation):
    """Progress & Compress: cortex = active column, student = knowledge base protected by online EWC.

    Args:
        ewc_lambda: strength lambda of the online-EWC penalty on the student in compress
            (see the module docstring for how the default was chosen).
        ewc_gamma: decay gamma of the running Fisher (1: plain accumulated EWC; 0: only the
            last task is protected).
        fisher_states: at most this many of the task's stored states (a seeded subsample)
            estimate the Fisher after each compress.
        reset_active_column: re-initialise the cortex's actor before the wake of each new task.
        reset_critic: with ``reset_active_column``, re-initialise the critic too.
        the other keywords: those of :class:`consolidation.sleep.SleepSettings` (the compress loop).
    """

    shares_wake = False  # a wake that re-initialises the active column is not plain fine-tuning

    @dataclass
    class Schema(SleepSettings):
        """Our sleep's settings (the task just learned only, uniform replay, as in P&C) plus P&C's own."""

        interleave: bool = False
        gating: GatingSettings = field(default_factory=lambda: GatingSettings(mode="off"))
        ewc_lambda: float = 10.0
        ewc_gamma: float = 0.95
        fisher_states: int = 2048
        reset_active_column: bool = True
        reset_critic: bool = True

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        ewc_lambda, ewc_gamma, fisher_states = self.settings.ewc_lambda, self.settings.ewc_gamma, \
            self.settings.fisher_states
        reset_active_column, reset_critic = self.settings.reset_active_column, self.settings.reset_critic
        if not (math.isfinite(ewc_lambda) and ewc_lambda >= 0):
            raise ValueError(f"consolidation.ewc_lambda={ewc_lambda!r} is not allowed: expected a finite float >= 0")
        if not 0.0 <= ewc_gamma <= 1.0:
            raise ValueError(f"consolidation.ewc_gamma={ewc_gamma!r} is not allowed: expected a float in [0, 1]")
        if int(fisher_states) < 1:
            raise ValueError(f"consolidation.fisher_states={fisher_states!r} is not allowed: expected an integer >= 1")
        self.ewc_lambda, self.ewc_gamma, self.fisher_states = float(ewc_lambda), float(ewc_gamma), int(fisher_states)
        self.reset_active_column, self.reset_critic = bool(reset_active_column), bool(reset_critic)
        self.fisher: dict[str, torch.Tensor] = {}  # running F*, by the student's parameter names
        self.anchor: dict[str, torch.Tensor] = {}  # theta*: the student after the last compress
        self.compressions = 0
        self.last_task = -1  # task of the last wake (-1: none yet)

    # -- progress ------------------------------------------------------------------------------
    def plain_wake(self, task: int) -> bool:
        """Plain fine-tuning unless this wake re-initialises the active column: the first wake
        (and every wake without ``reset_active_column``) is shared with fine-tuning's."""
        return not self._resets(task)

    def _resets(self, task: int) -> bool:
        return self.reset_active_column and self.last_task >= 0 and task != self.last_task

    def on_wake_start(self, learner: CorticalLearner, memory, task: int) -> None:
        """Re-initialise the active column when a new task starts (never before the first wake)."""
        if self._resets(task):
            reinitialise_cortex(learner, critic=self.reset_critic)

    def on_wake_end(self, learner: CorticalLearner, memory, task: int) -> None:
        self.last_task = int(task)

    # -- compress ------------------------------------------------------------------------------
    def penalty(self, student: SubcorticalPolicy) -> torch.Tensor:
        """(lambda / 2) sum gamma F* (theta - theta*)^2 over the student's parameters (0 before any compress)."""
        if not self.fisher:
            return torch.zeros(())
        terms = [(self.fisher[name] * (parameter - self.anchor[name]) ** 2).sum()
                 for name, parameter in student.named_parameters()]
        return 0.5 * self.ewc_lambda * self.ewc_gamma * torch.stack(terms).sum()

    def sleep(self, student, memory, task, learner, seed, updates, logger=None):
        """Compress: distil the cortex on ``task``'s memories into the penalised student, then
        fold the student's Fisher at ``task``'s states into F* and anchor at its new weights."""
        report = self.phase.run(student, memory, task, learner, seed, updates=updates, logger=logger,
                                extra_loss=self.penalty)
        obs = memory.arrays([task])["obs"]
        if len(obs) > self.fisher_states:
            rows = np.sort(np.random.default_rng(seed).choice(len(obs), self.fisher_states, replace=False))
            obs = obs[rows]
        fisher = gaussian_policy_fisher(student, torch.as_tensor(obs))
        self.fisher = {name: self.ewc_gamma * self.fisher[name] + value if self.fisher else value
                       for name, value in fisher.items()}
        self.anchor = {name: p.detach().clone() for name, p in student.named_parameters()}
        self.compressions += 1
        if logger is not None:
            logger.record("sleep/ewc_fisher_mean", float(torch.cat([f.flatten() for f in self.fisher.values()]).mean()))
            logger.dump(updates)
        return report

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"fisher": {k: v.clone() for k, v in self.fisher.items()},
                "anchor": {k: v.clone() for k, v in self.anchor.items()},
                "compressions": torch.tensor(self.compressions), "last_task": torch.tensor(self.last_task)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fisher = {k: v.clone() for k, v in state["fisher"].items()}
        self.anchor = {k: v.clone() for k, v in state["anchor"].items()}
        self.compressions, self.last_task = int(state["compressions"]), int(state["last_task"])


@torch.no_grad()
def gaussian_policy_fisher(policy: SubcorticalPolicy, obs: torch.Tensor, chunk: int = 512) -> dict[str, torch.Tensor]:
    """Diagonal Fisher of a diagonal-Gaussian policy, averaged over the states ``obs``.

    Per state, E_{a ~ pi}[(d log pi(a|s) / d theta_i)^2] = sum_k (d mu_k / d theta_i)^2 / sigma_k^2
    + 2 (d log sigma_k / d theta_i)^2 (the score's mean and log-std parts are uncorrelated),
    from per-state Jacobians (``torch.func``), so no action is sampled. Non-negative by construction.
    """
    params = {name: p.detach() for name, p in policy.named_parameters()}
    total = {name: torch.zeros_like(p) for name, p in params.items()}

    def outputs(p, state):
        mean, log_std = functional_call(policy, p, (state.unsqueeze(0),))
        return mean.squeeze(0), log_std.squeeze(0)

    jacobians = vmap(jacrev(outputs), in_dims=(None, 0))
    for start in range(0, len(obs), chunk):
        batch = obs[start:start + chunk].float()
        mean_jac, log_std_jac = jacobians(params, batch)  # name -> (N, action_dim, *shape)
        _, log_std = policy(batch)
        precision = (-2 * log_std).exp()  # (N, action_dim): 1 / sigma^2
        for name, p in params.items():
            view = precision.reshape(*precision.shape, *([1] * p.dim()))
            total[name] += (mean_jac[name] ** 2 * view).sum((0, 1)) + 2 * (log_std_jac[name] ** 2).sum((0, 1))
    return {name: value / max(len(obs), 1) for name, value in total.items()}


@torch.no_grad()
def reinitialise_cortex(learner: CorticalLearner, critic: bool = True) -> None:
    """Give the cortex's actor (and critic) the weights of a newly built SB3 policy of the same
    class and arguments (SB3's own initialisation, from torch's global generator), and clear the
    state of every optimizer. The parameter objects stay the same, so the optimizers keep them."""
    policy = learner.model.policy
    arguments = policy._get_constructor_parameters()
    if hasattr(policy, "share_features_extractor"):  # not among SB3's constructor parameters
        arguments["share_features_extractor"] = policy.share_features_extractor
    fresh = type(policy)(**arguments).to(policy.device).state_dict()
    for name, tensor in policy.state_dict().items():
        if critic or not name.startswith(CRITIC_PREFIXES):
            tensor.copy_(fresh[name])
    for optimizer in learner.optimizers():
        optimizer.state.clear()
