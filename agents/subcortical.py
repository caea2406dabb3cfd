"""The compact subcortical policy: a small Gaussian MLP that sleep distils the cortical skill into.

It stands for the cerebellum and basal ganglia in the consolidation story: much smaller than
the cortical network (default 32x32 hidden units, a few percent of its parameters), it
learns offline only, from replayed memories, and accumulates skills across sleeps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from fileio import atomic_path


class SubcorticalPolicy(nn.Module):
    """obs -> diagonal Gaussian over actions (state-dependent mean, state-independent log-std).

    The same distribution family as the cortical actor, so the KL to it is exact: with PPO
    (``bounded_mean``) the mean is tanh-bounded and the deterministic action is the mean; with
    SAC (``squash``) the Gaussian is SAC's pre-squash one and the action is tanh of its mean.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...] | list[int] = (32, 32),
                 log_std_init: float = -1.0, bounded_mean: bool = True, squash: bool = False) -> None:
        super().__init__()
        if obs_dim < 1 or action_dim < 1:
            raise ValueError(f"obs_dim={obs_dim!r}, action_dim={action_dim!r}: expected integers >= 1")
        if not hidden or any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden={list(hidden)!r} is not allowed: expected a non-empty list of integers >= 1")
        self.obs_dim, self.action_dim, self.hidden = int(obs_dim), int(action_dim), [int(h) for h in hidden]
        layers: list[nn.Module] = []
        width = self.obs_dim
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        layers.append(nn.Linear(width, self.action_dim))
        self.bounded_mean, self.squash = bool(bounded_mean), bool(squash)
        if self.bounded_mean:  # the same tanh-bounded mean as the cortical PPO actor
            layers.append(nn.Tanh())
        self.mean_net = nn.Sequential(*layers)
        self.log_std = nn.Parameter(torch.full((self.action_dim,), float(log_std_init)))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std of the action distribution for a batch of observations."""
        mean = self.mean_net(obs)
        return mean, self.log_std.expand_as(mean)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def multiply_adds(self) -> int:
        """Multiply-adds of one deterministic action (the automaticity cost of DESIGN.md section 4)."""
        widths = [self.obs_dim, *self.hidden, self.action_dim]
        return sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action for one observation (or a batch), as a numpy array in [-1, 1]."""
        tensor = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        mean = self.mean_net(tensor)
        return (mean.tanh() if self.squash else mean.clamp(-1.0, 1.0)).numpy()

    def spec(self) -> dict:
        return {"obs_dim": self.obs_dim, "action_dim": self.action_dim, "hidden": self.hidden,
                "bounded_mean": self.bounded_mean, "squash": self.squash}

    def save(self, path: str | Path) -> None:
        """Weights and shape as plain tensors/ints, written to a temp file and renamed."""
        with atomic_path(path) as tmp:
            torch.save({"spec": self.spec(), "state_dict": self.state_dict()}, tmp)

    @classmethod
    def load(cls, path: str | Path) -> SubcorticalPolicy:
        """Load with ``weights_only=True``: no code from the file is executed."""
        try:
            blob = torch.load(path, weights_only=True, map_location="cpu")
            policy = cls(**blob["spec"])
            policy.load_state_dict(blob["state_dict"])
        except Exception as error:  # torch raises several types for a damaged file
            raise ValueError(f"cannot load subcortical policy from {path}: {error}") from error
        return policy


def gaussian_kl(mean_p: torch.Tensor, log_std_p: torch.Tensor, mean_q: torch.Tensor,
                log_std_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) of diagonal Gaussians, summed over action dimensions: one value per sample."""
    var_p, var_q = (2 * log_std_p).exp(), (2 * log_std_q).exp()
    kl = log_std_q - log_std_p + (var_p + (mean_p - mean_q) ** 2) / (2 * var_q) - 0.5
    return kl.sum(-1)
