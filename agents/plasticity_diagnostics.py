"""How plastic the cortex still is: dormant and saturated units, weight norm, effective rank.

Loss of plasticity shows in the network before it shows in the returns: units stop
responding (dormant, Sokar et al. 2023, "The dormant neuron phenomenon in deep RL") or sit
in the flat tails of a bounded activation (saturated: zero slope, so no gradient reaches
their inputs), weights grow (Lyle et al. 2024, "Disentangling the causes of plasticity
loss"), and the features collapse onto fewer directions (effective rank, Kumar et al. 2021,
"Implicit under-parameterization"). These are pure functions of a policy and a batch of
observations, so that wake can log them and the plasticity study can save them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from torch import nn

ACTIVATIONS = (nn.Tanh, nn.ReLU, nn.ELU, nn.LeakyReLU, nn.SiLU, nn.GELU)
DORMANT_THRESHOLD = 0.1      # a unit's normalised score at or below this is dormant (Sokar et al. 2023: tau = 0.1)
SATURATION = 0.99            # |tanh| above this: slope below 0.02
RANK_DELTA = 0.01            # effective rank keeps 1 - delta of the singular-value mass (Kumar et al. 2021)


@dataclass(frozen=True)
class HiddenLayer:
    """One hidden layer's response to a batch: pre-activations ``z`` and activations ``h`` (batch x units)."""

    z: torch.Tensor
    h: torch.Tensor
    activation: nn.Module


def hidden_layers(net: nn.Sequential, x: torch.Tensor) -> list[HiddenLayer]:
    """Run ``net`` on ``x`` and keep every activation's input and output (one entry per hidden layer)."""
    layers = []
    for module in net:
        if isinstance(module, ACTIVATIONS):
            h = module(x)
            layers.append(HiddenLayer(x, h, module))
            x = h
        else:
            x = module(x)
    return layers


def activity_scores(h: torch.Tensor) -> torch.Tensor:
    """Sokar et al.'s score of each unit: its mean |activation|, divided by the layer's mean of that."""
    mean_abs = h.abs().mean(dim=0)
    return mean_abs / mean_abs.mean().clamp_min(1e-12)


def slope_scores(layer: HiddenLayer) -> torch.Tensor:
    """Each unit's mean local slope (d activation / d input) over the batch, divided by the layer's mean.

    The slope is what lets a unit learn: a dead ReLU and a saturated tanh both have none. For ReLU
    this score is the fraction of inputs on which the unit is active, relative to its layer.
    """
    z = layer.z.detach().requires_grad_(True)
    (slope,) = torch.autograd.grad(layer.activation(z).sum(), z)
    mean_slope = slope.mean(dim=0)
    return mean_slope / mean_slope.mean().clamp_min(1e-12)


def dormant_units(layer: HiddenLayer, threshold: float = DORMANT_THRESHOLD) -> torch.Tensor:
    """Boolean mask of units that no longer take part in learning: low activity or no slope."""
    return (activity_scores(layer.h) <= threshold) | (slope_scores(layer) <= threshold)


def saturated_fraction(h: torch.Tensor, level: float = SATURATION) -> float:
    """Fraction of units whose |activation| exceeds ``level`` on at least 99% of the batch."""
    return float(((h.abs() > level).float().mean(dim=0) >= 0.99).float().mean())


def effective_rank(features: torch.Tensor, delta: float = RANK_DELTA) -> int:
    """srank: the fewest singular values of the feature matrix holding 1 - delta of their sum."""
    singular = torch.linalg.svdvals(features.double())
    if float(singular.sum()) == 0.0:
        return 0
    cumulative = torch.cumsum(singular, 0) / singular.sum()
    return int(torch.searchsorted(cumulative, torch.tensor(1.0 - delta, dtype=cumulative.dtype)).item()) + 1


@dataclass(frozen=True)
class PlasticityDiagnostics:
    """One measurement of the actor's hidden layers and of the policy's weights."""

    dormant_fraction: float       # units dormant by activity or slope (Sokar et al.'s tau = 0.1)
    saturated_fraction: float     # units stuck in the tails of a bounded activation
    effective_rank: int           # srank of the last hidden layer's features
    feature_width: int            # units in that layer (the largest possible rank)
    weight_norm: float            # L2 norm of every parameter of actor and critic
    action_std: float             # the Gaussian's state-independent std, averaged over actions: the exploration
                                  # an on-policy learner has left when a new context begins (NaN without one)
    saturated_mean_fraction: float  # tanh-bounded mean: share of (state, action) with |pre-tanh| > 2, where the
                                    # squashing passes under 7% of the gradient (NaN for a linear mean)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def rollout_observations(model, limit: int | None = None) -> np.ndarray:
    """The observations of an on-policy model's current rollout, one row per (step, env), at most
    ``limit`` of them (the first steps of every env)."""
    observations = model.rollout_buffer.observations
    return observations.reshape(-1, observations.shape[-1])[:limit]


@torch.no_grad()
def _weight_norm(module: nn.Module) -> float:
    return float(torch.sqrt(sum((p.double() ** 2).sum() for p in module.parameters())))


def measure(policy, observations: np.ndarray) -> PlasticityDiagnostics:
    """Diagnostics of an SB3 actor-critic policy (PPO) on a batch of observations."""
    obs = torch.as_tensor(observations, dtype=torch.float32, device=policy.device)
    with torch.no_grad():
        features = policy.extract_features(obs, policy.pi_features_extractor)
    layers = hidden_layers(policy.mlp_extractor.policy_net, features)
    if not layers:
        raise ValueError("the policy has no hidden layer to diagnose")
    units = sum(layer.h.shape[1] for layer in layers)
    dormant = sum(int(dormant_units(layer).sum()) for layer in layers)
    saturated = sum(saturated_fraction(layer.h) * layer.h.shape[1] for layer in layers)
    last = layers[-1].h.detach()
    saturated_mean = float("nan")
    if isinstance(policy.action_net, nn.Sequential) and isinstance(policy.action_net[-1], nn.Tanh):
        with torch.no_grad():
            pre_tanh = policy.action_net[:-1](layers[-1].h)
        saturated_mean = float((pre_tanh.abs() > 2.0).float().mean())
    log_std = getattr(policy, "log_std", None)
    action_std = float(log_std.detach().exp().mean()) if isinstance(log_std, torch.Tensor) else float("nan")
    return PlasticityDiagnostics(dormant_fraction=dormant / units, saturated_fraction=saturated / units,
                                 effective_rank=effective_rank(last), feature_width=int(last.shape[1]),
                                 weight_norm=_weight_norm(policy), action_std=action_std,
                                 saturated_mean_fraction=saturated_mean)


class PlasticityLogger(BaseCallback):
    """Logs :func:`measure` on each rollout's observations (``plasticity/*`` in SB3's logger).

    PPO only (an on-policy rollout buffer); measured every ``every`` rollouts on at most
    ``batch`` observations, so that the cost stays a small fraction of an update.
    """

    def __init__(self, every: int = 5, batch: int = 1024) -> None:
        super().__init__()
        self.every, self.batch, self.rollouts = int(every), int(batch), 0

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.rollouts += 1
        if getattr(self.model, "rollout_buffer", None) is None or self.rollouts % self.every:
            return
        for key, value in measure(self.model.policy, rollout_observations(self.model, self.batch)).as_dict().items():
            self.logger.record(f"plasticity/{key}", value)
