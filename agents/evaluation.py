"""Evaluation of any policy on a task: returns over fixed-seed episodes, success rate, normalised score.

Scores follow DESIGN.md section 4: (R - R_base) / (R_reference - R_base), with R_base the better
of a random and a zero-action policy, so that a policy that merely does nothing scores 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import gymnasium
import numpy as np

Policy = Callable[[np.ndarray], np.ndarray]
"""A policy maps one observation to one action (deterministic at evaluation)."""


@dataclass(frozen=True)
class Evaluation:
    """Result of evaluating a policy: per-episode returns and successes."""

    returns: tuple[float, ...]
    successes: tuple[bool, ...]

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.successes))

    def to_dict(self) -> dict:
        return {**asdict(self), "mean_return": self.mean_return, "success_rate": self.success_rate}


def episode_options(env: gymnasium.Env, episode: int) -> dict:
    """Reset options for evaluation episode ``episode``: reach cycles through every target."""
    n_targets = getattr(env.unwrapped, "n_targets", None)
    if n_targets is not None and not getattr(env.unwrapped, "random_targets", False):
        return {"target_index": episode % n_targets}
    return {}


def evaluate(policy: Policy, env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> Evaluation:
    """Run ``n_episodes`` episodes of ``policy`` on ``env`` with seeds ``seed, seed + 1, ...``.

    Evaluation seeds are fixed and disjoint from training seeds by convention (>= 10000), so
    every policy is scored on the same initial states and targets.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes={n_episodes!r} is not allowed: expected an integer >= 1")
    returns, successes = [], []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed + episode, options=episode_options(env, episode))
        total, done, info = 0.0, False, {}
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        successes.append(bool(info.get("is_success", False)))
    return Evaluation(tuple(returns), tuple(successes))


def normalised_score(mean_return: float, base_return: float, reference_return: float) -> float:
    """(R - R_base) / (R_reference - R_base): 0 at the baseline, 1 at the reference."""
    span = reference_return - base_return
    if not np.isfinite(span) or span <= 0:
        raise ValueError(
            f"reference_return={reference_return!r} must exceed base_return={base_return!r} "
            "to normalise a score"
        )
    return float((mean_return - base_return) / span)

