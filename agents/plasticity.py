"""Remedies for the cortex's loss of plasticity (the ``agent/plasticity`` config group).

From A's weights the cortex needed about four times the steps it needs from scratch to learn
B, so forgetting was measured while B was still being learned. Each remedy here is one
published way to keep a network able to learn, applied to the cortical PPO learner; the
plasticity study (scripts/plasticity.py) compares them, B from A's weights against B from
scratch, and the diagnostics of agents/plasticity_diagnostics.py show what each changes.

A remedy acts at three points, all optional: how the policy is built (its optimizer, its
layers), what happens when the context switches, and a callback during wake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from torch import nn

from agents.checks import check_number
from agents.plasticity_diagnostics import DORMANT_THRESHOLD, dormant_units, hidden_layers, rollout_observations


class Plasticity:
    """No remedy: SB3's Adam (eps 1e-5), no change at the switch beyond the learner's own
    optimizer reset (``agent.reset_optimizer_on_switch``)."""

    name: ClassVar[str] = "none"
    algorithms: ClassVar[tuple[str, ...]] = ("ppo", "sac")   # learners the remedy applies to
    only_at_switch: ClassVar[bool] = False   # True: acts only at a context switch (learning from scratch unchanged)

    @dataclass
    class Schema:
        """Settings of the remedy (none for the plain learner)."""

    def __init__(self, **settings: Any) -> None:
        self.settings = self.Schema(**settings)

    def check(self, algorithm: str) -> None:
        """Refuse a learner the remedy is not built for, before any training."""
        if algorithm not in self.algorithms:
            raise ValueError(f"agent.plasticity={self.name!r} is not allowed with agent.algorithm={algorithm!r}: "
                             f"it applies to {list(self.algorithms)}; use agent/plasticity=none")

    def policy_kwargs(self) -> dict[str, Any]:
        """Extra ``policy_kwargs`` of the SB3 model (optimizer, layers)."""
        return {}

    def attach(self, model) -> None:
        """Called once the SB3 model exists (built or loaded)."""

    def on_context_switch(self, policy) -> None:
        """Called when wake moves to another context, after the optimizer reset."""

    def callback(self) -> BaseCallback | None:
        """A callback for every wake (None: nothing during training)."""
        return None


class EqualBetasAdam(Plasticity):
    """Adam with beta1 = beta2 (Dohare et al. 2024, Nature 632: 'non-stationary Adam', 0.99/0.99).

    With beta2 >> beta1 the second-moment estimate lags behind a sudden change of gradient
    scale, as at a context switch, and the first steps become very large; equal betas keep the
    two moments on one time scale.
    """

    name = "adam_equal_betas"

    @dataclass
    class Schema:
        beta: float = 0.99    # beta1 = beta2 of Adam

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        check_number("agent.plasticity.beta", self.settings.beta, 0.0, 0.9999)

    def policy_kwargs(self) -> dict[str, Any]:
        beta = float(self.settings.beta)
        return {"optimizer_kwargs": {"eps": 1e-5, "betas": (beta, beta)}}


class LayerNormWeightDecay(Plasticity):
    """LayerNorm before every hidden activation, and decoupled weight decay (AdamW).

    Lyle et al. 2024 ('Disentangling the causes of plasticity loss in neural networks') found
    this pair the most reliable single fix: normalisation keeps pre-activations in the
    activation's sensitive range, weight decay keeps the parameter norm from growing.
    PPO only (the LayerNorm is built into the actor-critic's MLP).
    """

    name = "layernorm_weight_decay"
    algorithms = ("ppo",)

    @dataclass
    class Schema:
        weight_decay: float = 1.0e-4    # AdamW's decoupled decay per step (times the learning rate)

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        check_number("agent.plasticity.weight_decay", self.settings.weight_decay, 0.0, 1.0)

    def policy_kwargs(self) -> dict[str, Any]:
        return {"layer_norm": True, "optimizer_class": torch.optim.AdamW,
                "optimizer_kwargs": {"eps": 1e-5, "weight_decay": float(self.settings.weight_decay)}}


class ShrinkPerturb(Plasticity):
    """At each context switch, every weight becomes ``shrink * w + perturb * w_fresh``.

    Ash & Adams 2020 ('On warm-starting neural network training'): shrinking restores the
    gradient's effect on saturated or large weights, the fresh-initialisation noise restores
    the diversity of units. ``shrink=0, perturb=1`` is a full reset of the cortex at the switch
    (the cortex then keeps nothing of A; what survives is what sleep gave the student, the
    premise of Reset & Distill, arXiv 2403.05066). Fresh weights follow SB3's orthogonal
    initialisation with its gains; biases are shrunk; log-std and LayerNorm are left alone.
    """

    name = "shrink_perturb"
    algorithms = ("ppo",)
    only_at_switch = True

    @dataclass
    class Schema:
        shrink: float = 0.8      # factor on the current weights
        perturb: float = 0.2     # factor on a fresh initialisation

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        check_number("agent.plasticity.shrink", self.settings.shrink, 0.0, 1.0)
        check_number("agent.plasticity.perturb", self.settings.perturb, 0.0, 1.0)

    @torch.no_grad()
    def on_context_switch(self, policy) -> None:
        for module, gain in initialisation_gains(policy):
            for layer in module.modules():
                if isinstance(layer, nn.Linear):
                    fresh = torch.empty_like(layer.weight)
                    nn.init.orthogonal_(fresh, gain=gain)
                    layer.weight.mul_(self.settings.shrink).add_(fresh, alpha=self.settings.perturb)
                    if layer.bias is not None:
                        layer.bias.mul_(self.settings.shrink)


class Reset(ShrinkPerturb):
    """A full reset of the cortex at each context switch: shrink-and-perturb with shrink 0 and
    perturb 1. The cortex keeps nothing of A; only what sleep put in the student survives (the
    premise of Reset & Distill, arXiv 2403.05066)."""

    name = "reset"

    @dataclass
    class Schema:
        shrink: float = 0.0      # nothing of the old weights
        perturb: float = 1.0     # a fresh initialisation


class HeadReset(Plasticity):
    """At each context switch, re-initialise the actor's output layer; every hidden layer is kept.

    Resetting the last layers restores a deep RL agent's plasticity while keeping what its
    features learned (Nikishin et al. 2022, 'The primacy bias in deep reinforcement learning').
    Here it answers a measured cause: after A the bounded mean's pre-tanh outputs sit deep in
    tanh's tails on B's states (60% beyond |z| = 2, mean |z| 4.1 on reach, seed 0), so PPO's
    gradient through the squashing is about 1e-3 of its size at the centre and B is learned
    slowly; resetting the critic as well slowed B in the same probe, so the critic is kept.
    Fresh weights follow SB3's initialisation of the action layer (orthogonal, gain 0.01). PPO only.
    """

    name = "head_reset"
    algorithms = ("ppo",)
    only_at_switch = True

    @torch.no_grad()
    def on_context_switch(self, policy) -> None:
        head = _first_linear(policy.action_net)
        nn.init.orthogonal_(head.weight, gain=0.01)
        head.bias.zero_()


class MeanPenalty(Plasticity):
    """A penalty on the bounded mean's pre-tanh output, ``coefficient * mean(z ** 2)``, added to
    every PPO update on a batch of the current rollout's observations.

    It answers the same measured cause as ``head_reset`` without erasing anything at the switch:
    on B's states the pre-tanh outputs A left behind sit in tanh's tails, where PPO's gradient
    vanishes; the penalty's gradient acts on z directly, so it pulls them back to where PPO can
    move the mean, and only where they are large. SAC's first version regularised its pre-tanh
    mean the same way (Haarnoja et al. 2018). PPO with the bounded mean only.
    """

    name = "mean_penalty"
    algorithms = ("ppo",)

    @dataclass
    class Schema:
        coefficient: float = 0.01    # weight of mean(z ** 2) beside PPO's loss
        batch: int = 256             # rollout observations per update on which it is computed

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        check_number("agent.plasticity.coefficient", self.settings.coefficient, 0.0, 100.0)
        check_number("agent.plasticity.batch", self.settings.batch, 1, 10**6, integer=True)

    def attach(self, model) -> None:
        policy = model.policy
        if not (isinstance(policy.action_net, nn.Sequential) and isinstance(policy.action_net[-1], nn.Tanh)):
            raise ValueError(f"agent.plasticity={self.name!r} needs agent.bounded_mean=true (a tanh-bounded mean)")
        generator = torch.Generator().manual_seed(0)

        def add_penalty_gradient(optimizer, args, kwargs) -> None:
            buffer = model.rollout_buffer
            if buffer is None or not buffer.full:
                return
            obs = rollout_observations(model)
            rows = torch.randint(len(obs), (int(self.settings.batch),), generator=generator)
            x = torch.as_tensor(obs[rows.numpy()], dtype=torch.float32, device=policy.device)
            latent = policy.mlp_extractor.forward_actor(policy.extract_features(x, policy.pi_features_extractor))
            z = policy.action_net[:-1](latent)
            (self.settings.coefficient * z.pow(2).mean()).backward()

        policy.optimizer.register_step_pre_hook(add_penalty_gradient)


class ReDo(Plasticity):
    """Recycle dormant units every few rollouts (Sokar et al. 2023, 'The dormant neuron phenomenon').

    A hidden unit of actor or critic is dormant when its normalised mean |activation|, or its
    normalised mean slope, is at most ``threshold`` on the rollout's observations (for ReLU
    the two agree; for tanh the slope also catches saturated units). Its incoming weights are
    re-initialised, its outgoing weights set to zero (the network's output is unchanged at
    that moment), and the optimizer's moments of those weights cleared. PPO only.
    """

    name = "redo"
    algorithms = ("ppo",)

    @dataclass
    class Schema:
        threshold: float = DORMANT_THRESHOLD   # normalised score at or below which a unit is dormant
        every: int = 10                        # rollouts between two recyclings

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        check_number("agent.plasticity.threshold", self.settings.threshold, 0.0, 1.0)
        check_number("agent.plasticity.every", self.settings.every, 1, 10**6, integer=True)

    def callback(self) -> BaseCallback:
        return RecycleDormantUnits(self.settings.threshold, self.settings.every)


class RecycleDormantUnits(BaseCallback):
    """ReDo's recycling, run on the rollout just collected (before PPO's update on it)."""

    def __init__(self, threshold: float, every: int, batch: int = 1024) -> None:
        super().__init__()
        self.threshold, self.every, self.batch = float(threshold), int(every), int(batch)
        self.rollouts = 0
        self.recycled = 0    # units recycled so far (logged as plasticity/recycled_units)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.rollouts += 1
        if self.rollouts % self.every:
            return
        self.recycled += recycle_dormant(self.model.policy, rollout_observations(self.model, self.batch),
                                         self.threshold)
        self.logger.record("plasticity/recycled_units", self.recycled)


def _linears(net: nn.Sequential) -> list[nn.Linear]:
    return [m for m in net if isinstance(m, nn.Linear)]


def recycle_dormant(policy, observations: np.ndarray, threshold: float) -> int:
    """Re-initialise the dormant units of actor and critic; returns how many were recycled."""
    obs = torch.as_tensor(observations, dtype=torch.float32, device=policy.device)
    with torch.no_grad():
        features = policy.extract_features(obs, policy.pi_features_extractor)
    recycled = 0
    extractor = policy.mlp_extractor
    for net, head in ((extractor.policy_net, policy.action_net), (extractor.value_net, policy.value_net)):
        layers = hidden_layers(net, features)
        linears = _linears(net)
        outgoing = [*linears[1:], _first_linear(head)]
        norms = [m for m in net if isinstance(m, nn.LayerNorm)]
        for depth, layer in enumerate(layers):
            mask = dormant_units(layer, threshold)
            if mask.any():
                _reinitialise(linears[depth], outgoing[depth], mask, policy.optimizer,
                              norms[depth] if norms else None)
                recycled += int(mask.sum())
    return recycled


def _first_linear(head: nn.Module) -> nn.Linear:
    return head if isinstance(head, nn.Linear) else next(m for m in head.modules() if isinstance(m, nn.Linear))


@torch.no_grad()
def _reinitialise(incoming: nn.Linear, outgoing: nn.Linear, mask: torch.Tensor, optimizer,
                  norm: nn.LayerNorm | None) -> None:
    fresh = torch.empty_like(incoming.weight)
    nn.init.orthogonal_(fresh, gain=float(np.sqrt(2)))   # SB3's gain for hidden layers
    incoming.weight[mask] = fresh[mask]
    incoming.bias[mask] = 0.0
    outgoing.weight[:, mask] = 0.0
    if norm is not None:
        norm.weight[mask], norm.bias[mask] = 1.0, 0.0
    for parameter, rows in ((incoming.weight, mask), (incoming.bias, mask)):
        _clear_moments(optimizer, parameter, rows, None)
    _clear_moments(optimizer, outgoing.weight, None, mask)


def _clear_moments(optimizer, parameter: torch.Tensor, rows, columns) -> None:
    """Zero Adam's moments of the recycled entries (a stale moment would undo the recycling)."""
    state = optimizer.state.get(parameter, {})
    for key in ("exp_avg", "exp_avg_sq"):
        if key in state:
            if rows is not None:
                state[key][rows] = 0.0
            else:
                state[key][:, columns] = 0.0


def initialisation_gains(policy) -> list[tuple[nn.Module, float]]:
    """SB3's orthogonal-initialisation gain of each part of an actor-critic (ActorCriticPolicy._build)."""
    parts = [(policy.mlp_extractor, float(np.sqrt(2))), (policy.action_net, 0.01), (policy.value_net, 1.0)]
    return [(module, gain) for module, gain in parts if module is not None]


# the agent/plasticity config group: YAML option = key = the remedy's name
PLASTICITY: dict[str, type[Plasticity]] = {cls.name: cls for cls in
                                           (Plasticity, EqualBetasAdam, LayerNormWeightDecay, ShrinkPerturb, Reset,
                                            HeadReset, MeanPenalty, ReDo)}
