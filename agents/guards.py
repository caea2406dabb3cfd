"""Divergence guard: stop a phase whose learning blew up, with an error that says where.

A NaN or exploding loss in wake or sleep ends that phase with :class:`DivergenceError`
naming the phase and the step; the phase is not sealed, so earlier checkpoints stay intact
and the run resumes from them once the config is fixed.
"""

from __future__ import annotations

import math

import torch
from stable_baselines3.common.callbacks import BaseCallback


def action_std_finite(policy) -> bool:
    """Whether a PPO policy's Gaussian std exp(log_std) is finite and positive: a huge step can
    push log_std out of float range while every weight stays finite. True for policies without a
    state-independent log_std (SAC)."""
    log_std = getattr(policy, "log_std", None)
    if log_std is None:
        return True
    std = torch.exp(log_std.detach())
    return bool(torch.isfinite(std).all() and (std > 0).all())


class DivergenceError(RuntimeError):
    """A phase's loss or weights became NaN/inf, or its loss exceeded the configured limit."""


class DivergenceGuard(BaseCallback):
    """Check the learner after every update: at the start of each rollout (the first moment
    after SB3's ``train()``, before a NaN policy is sampled) and at the end of training.

    Args:
        phase: the phase's name, for the error message.
        max_loss: a training loss above this counts as diverged.
    """

    LOSS_KEYS = ("train/loss", "train/value_loss", "train/actor_loss", "train/critic_loss")

    def __init__(self, phase: str, max_loss: float = 1e8, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.phase, self.max_loss = phase, float(max_loss)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        self.check()

    def _on_training_end(self) -> None:
        self.check()

    def check(self) -> None:
        for key in self.LOSS_KEYS:
            value = self.model.logger.name_to_value.get(key)
            if value is not None and (not math.isfinite(value) or abs(value) > self.max_loss):
                raise DivergenceError(f"{self.phase} diverged at step {self.num_timesteps}: {key}={value!r} "
                                      f"(limit {self.max_loss:g}); lower agent.hyperparameters.learning_rate")
        for name, parameter in self.model.policy.named_parameters():
            if not torch.isfinite(parameter).all():
                raise DivergenceError(f"{self.phase} diverged at step {self.num_timesteps}: parameter {name} "
                                      "is not finite; lower agent.hyperparameters.learning_rate")
        if not action_std_finite(self.model.policy):
            raise DivergenceError(f"{self.phase} diverged at step {self.num_timesteps}: the action std "
                                  "exp(log_std) is not finite and positive; lower "
                                  "agent.hyperparameters.learning_rate")
