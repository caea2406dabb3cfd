"""``clear``: behaviour cloning of earlier tasks' replayed memories during wake (a baseline, no sleep).

After Rolnick et al. (2019), "Experience Replay for Continual Learning" (CLEAR, NeurIPS):
while learning a new task, the learner also minimises, on replayed states of earlier tasks,
a policy-cloning loss KL(stored behaviour policy || current policy) and a value-cloning loss
(V(s) - V_stored(s))^2, which keep its old behaviour from drifting.

Adapted here: CLEAR stores the behaviour policy's outputs with every transition it acts on,
and also learns off-policy from the replay (V-trace). Our memory's targets belong to sleep
(they are relabelled there), and the contract forbids a strategy to change the memory, so at
the end of each task's wake this strategy records, in its *own* state, the cortex's final
action distribution and value estimate at that task's memory states: those are the cloning
targets when later tasks are learned (what the cortex knew when it finished the task, rather
than the policy that happened to act). Only the two cloning terms are kept: the new task is
learned by the learner's own on-policy update (PPO or SAC), not from replay. With SAC the
value term is skipped: the penalty's gradient is added by a pre-step hook on the *actor's*
optimizer only, and the critic's optimizer clears the critic's gradients before its own step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.cortex import CorticalLearner
from agents.subcortical import gaussian_kl
from consolidation.memory import EpisodicMemory
from consolidation.strategies.base import Strategy, register

_TARGETS = ("obs", "mean", "log_std", "value")


@register("clear")
class CLEAR(Strategy):
    """Replay with behaviour cloning of earlier tasks in wake (Rolnick et al. 2019).

    The penalty, on a batch of ``batch_size`` states drawn uniformly (with replacement) from
    the recorded states of every task other than the one being learned::

        policy_weight * mean KL(target || cortical) + value_weight * mean (V(s) - V_target(s))^2

    Args:
        policy_weight: weight of the policy-cloning (KL) term.
        value_weight: weight of the value-cloning term (PPO only; see the module docstring).
        batch_size: replayed states per cortical optimizer step.
        seed: seeds the replay generator, which is reseeded at every wake start from
            ``(seed, wakes recorded so far, task)`` so that a resumed wake replays the same batches.
    """

    @dataclass
    class Schema:
        policy_weight: float = 1.0
        value_weight: float = 0.5
        batch_size: int = 256
        seed: int = 0

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        policy_weight, value_weight = self.settings.policy_weight, self.settings.value_weight
        batch_size, seed = self.settings.batch_size, self.settings.seed
        for name, value in (("policy_weight", policy_weight), ("value_weight", value_weight)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"consolidation.{name}={value!r} is not allowed: expected a float >= 0")
        for name, value, low in (("batch_size", batch_size, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(f"consolidation.{name}={value!r} is not allowed: expected an integer >= {low}")
        self.policy_weight, self.value_weight = float(policy_weight), float(value_weight)
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.targets: dict[int, dict[str, torch.Tensor]] = {}  # task -> recorded cloning targets
        self.wakes = 0  # wakes recorded so far (part of the replay generator's seed)
        self._pool: dict[str, torch.Tensor] | None = None  # earlier tasks' targets, concatenated
        self._generator = torch.Generator()

    # ------------------------------------------------------------------ hooks
    def plain_wake(self, task: int) -> bool:
        """With no earlier task recorded there is nothing to clone: plain fine-tuning."""
        return not any(t != task for t in self.targets)

    def on_wake_start(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> None:
        """Pick the earlier tasks to clone and reseed the replay generator (changes only this strategy)."""
        self._pool = self._concatenate([t for t in sorted(self.targets) if t != task])
        seed = np.random.SeedSequence([self.seed, self.wakes, task]).generate_state(1)[0]
        self._generator.manual_seed(int(seed))

    def wake_penalty(self, learner: CorticalLearner) -> torch.Tensor | None:
        """The cloning loss on one replayed batch; None (no penalty) while no earlier task is recorded."""
        if self._pool is None:  # called outside a wake started by on_wake_start: clone every task
            self._pool = self._concatenate(sorted(self.targets))
        if not len(self._pool["obs"]):
            return None
        index = torch.randint(len(self._pool["obs"]), (self.batch_size,), generator=self._generator)
        kl, value = self.cloning_losses(learner, index)
        return self.policy_weight * kl + self.value_weight * value

    def on_wake_end(self, learner: CorticalLearner, memory: EpisodicMemory, task: int) -> None:
        """Record the cortex's final outputs at ``task``'s memory states (replacing older ones)."""
        obs = memory.arrays([task])["obs"]
        mean, log_std = learner.action_distribution(obs)
        self.targets[task] = {"obs": torch.as_tensor(obs), "mean": torch.as_tensor(mean),
                              "log_std": torch.as_tensor(log_std), "value": _values(learner, obs)}
        self.wakes += 1
        self._pool = None

    # ------------------------------------------------------------------ the loss
    def cloning_losses(self, learner: CorticalLearner, index: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean KL(target || cortical) and mean squared value error (0 for SAC) on the rows
        ``index`` of the replayed pool (all rows if None); differentiable in the cortex."""
        pool = self._pool if self._pool is not None else self._concatenate(sorted(self.targets))
        rows = {k: v if index is None else v[index] for k, v in pool.items()}
        policy = learner.model.policy
        obs = rows["obs"].to(policy.device)
        if learner.algorithm == "sac":
            mean, log_std, _ = policy.actor.get_action_dist_params(obs)
            value_error = torch.zeros((), device=policy.device)
        else:
            distribution = policy.get_distribution(obs).distribution
            mean, log_std = distribution.mean, distribution.stddev.log()
            value_error = ((policy.predict_values(obs).squeeze(-1) - rows["value"].to(policy.device)) ** 2).mean()
        kl = gaussian_kl(rows["mean"].to(policy.device), rows["log_std"].to(policy.device), mean, log_std).mean()
        return kl, value_error

    def _concatenate(self, tasks: list[int]) -> dict[str, torch.Tensor]:
        if not tasks:
            return {"obs": torch.empty(0)}
        return {k: torch.cat([self.targets[t][k] for t in tasks]) for k in _TARGETS}

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"wakes": self.wakes,
                "targets": {str(task): dict(targets) for task, targets in self.targets.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wakes = int(state["wakes"])
        self.targets = {int(task): dict(targets) for task, targets in state["targets"].items()}
        self._pool = None


@torch.no_grad()
def _values(learner: CorticalLearner, obs: np.ndarray, batch: int = 8192) -> torch.Tensor:
    """The critic's V(s) (PPO); NaN for SAC, whose value term is skipped."""
    if learner.algorithm == "sac":
        return torch.full((len(obs),), math.nan)
    policy = learner.model.policy
    values = [policy.predict_values(torch.as_tensor(obs[i:i + batch], device=policy.device)).squeeze(-1).cpu()
              for i in range(0, len(obs), batch)]
    return torch.cat(values) if values else torch.empty(0)
