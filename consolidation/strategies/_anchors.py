"""Shared pieces of the regularisation baselines (``l2``, ``ewc``, ``online_ewc``, ``mas``).

The cortical actor as one module (:class:`Actor`), per-sample gradients of a scalar function of
its output over memory states (:func:`per_sample_gradients`), and the strategy they all are
(:class:`AnchoredPenalty`): after each task, anchor the actor's parameters with an importance
per parameter; in wake, penalise (strength / 2) * sum_i importance_i (theta_i - anchor_i)^2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.preprocessing import preprocess_obs
from torch import nn
from torch.func import functional_call, grad, vmap

from agents.cortex import CorticalLearner
from consolidation.checks import check_number
from consolidation.memory import EpisodicMemory
from consolidation.strategies.base import Strategy

Tensors = dict[str, torch.Tensor]

#: How the default strengths were set: starting points from one seed, not tuned.
#: 1. Relative scale: the quick protocol's cortex after A was fine-tuned on B with no penalty; where
#:    it had learnt B (250k steps, B 0.88), PPO's actor gradient had median norm 0.44 and each penalty
#:    at lambda = 1, anchored at A, had the gradient norm in ``unit_gradient_norm``.
#: 2. Level: ``experiment=quick`` (reach curl fields, PPO 256x256, A 200k then B 400k steps, seed 0),
#:    cortical scores (A, B) after wake B, one run each (``none`` is plain fine-tuning). The 1e2-1e4
#:    usual with SAC or supervised losses freeze this PPO cortex: its normalised-advantage surrogate
#:    has small gradients, and Adam then follows the penalty on every weight PPO barely moves.
CALIBRATION = {
    "unit_gradient_norm": {"ppo_actor": 0.44, "l2": 2.9, "ewc": 5.7, "mas": 0.13},
    "quick_seed0_A_B": {"none": (0.68, 0.83),
                        "ewc": {0.1: (0.64, 1.01), 1.0: (0.84, 0.97), 10.0: (0.91, 0.84)},
                        "mas": {4.0: (0.78, 0.60), 40.0: (0.94, -0.87)},
                        "l2": {0.02: (0.23, 0.97), 0.2: (0.40, 0.49), 2.0: (0.51, -0.77)}},
    "default_strength": {"l2": 0.2, "ewc": 1.0, "online_ewc": 1.0, "mas": 4.0},
}


class Actor(nn.Module):
    """The parameters of the cortex that produce actions, as one module over the SB3 policy's own.

    PPO: ``policy.mlp_extractor.policy_net``, ``policy.action_net`` (with its tanh when the mean is
    bounded) and ``policy.log_std``; SAC: ``policy.actor`` (``latent_pi``, ``mu``, ``log_std``).
    The critics are excluded: every baseline protects what the cortex does, not what it predicts.
    The submodules are the learner's own (not copies), so :meth:`named_parameters` are the live
    parameters, and their names stay the same when the learner is rebuilt or reloaded.

    ``forward(obs)`` returns the Gaussian's mean and log-std (SAC: before the tanh squash).
    """

    def __init__(self, learner: CorticalLearner) -> None:
        super().__init__()
        if learner.model is None:
            raise ValueError("the cortical learner has no model yet: build it before reading its actor")
        policy = learner.model.policy
        if getattr(policy, "use_sde", False):
            raise ValueError("agent.hyperparameters.use_sde=True is not supported by the regularisation "
                             "baselines: they need a diagonal Gaussian with state-independent noise")
        self.sac = learner.algorithm == "sac"
        self.observation_space = policy.observation_space
        self.normalize_images = policy.normalize_images
        if self.sac:
            self.actor = policy.actor
        else:
            self.features = policy.pi_features_extractor
            self.policy_net = policy.mlp_extractor.policy_net
            self.action_net = policy.action_net
            self.log_std = policy.log_std  # an nn.Parameter: registered here, still owned by the policy

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.sac:
            mean, log_std, _ = self.actor.get_action_dist_params(obs)
            return mean, log_std
        features = self.features(preprocess_obs(obs, self.observation_space, self.normalize_images))
        mean = self.action_net(self.policy_net(features))
        return mean, self.log_std.expand_as(mean)

    def action(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action: the mean (PPO), tanh of the pre-squash mean (SAC)."""
        mean, _ = self(obs)
        return torch.tanh(mean) if self.sac else mean


def actor_parameters(learner: CorticalLearner) -> dict[str, nn.Parameter]:
    """The live actor parameters of the cortex by stable name (see :class:`Actor`)."""
    return dict(Actor(learner).named_parameters())


def per_sample_gradients(actor: nn.Module, function: Callable[..., torch.Tensor], inputs: tuple[torch.Tensor, ...],
                         reduce: Callable[[torch.Tensor], torch.Tensor], chunk: int = 128) -> Tensors:
    """Mean over samples of ``reduce(d function(actor, *sample) / d theta)``, per parameter.

    ``function(actor_output_fn, *sample)`` gets ``call(obs)`` (the actor under the parameters being
    differentiated) and one sample of each of ``inputs``, and returns a scalar. Gradients are per
    sample (torch.func's vmap of grad), computed ``chunk`` samples at a time so that memory stays
    at chunk x parameters.
    """
    params = {k: p.detach() for k, p in actor.named_parameters()}

    def scalar(theta: Tensors, *sample: torch.Tensor) -> torch.Tensor:
        return function(lambda obs: functional_call(actor, theta, (obs,)), *sample)

    per_sample = vmap(grad(scalar), in_dims=(None, *([0] * len(inputs))))
    n = len(inputs[0])
    total = {k: torch.zeros_like(p) for k, p in params.items()}
    for start in range(0, n, chunk):
        grads = per_sample(params, *(x[start:start + chunk] for x in inputs))
        for k, g in grads.items():
            total[k] += reduce(g).sum(0)
    return {k: v / max(n, 1) for k, v in total.items()}


def memory_states(memory: EpisodicMemory, task: int, samples: int, generator: torch.Generator) -> torch.Tensor:
    """Up to ``samples`` observations of ``task``'s memories (a seeded random subset if there are more)."""
    obs = torch.as_tensor(memory.arrays([task])["obs"], dtype=torch.float32)
    if len(obs) > samples:
        obs = obs[torch.randperm(len(obs), generator=generator)[:samples]]
    return obs


def task_generator(seed: int, task: int) -> torch.Generator:
    """A generator that depends only on (seed, task): a resumed run draws exactly the same numbers."""
    state = np.random.SeedSequence([int(seed), int(task)]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


class AnchoredPenalty(Strategy):
    """Quadratic pull of the cortical actor towards anchors, each with a per-parameter importance.

    ``self.terms`` maps a key (a task index for per-task anchors, ``"online"`` for one running
    anchor) to ``(anchor, importance)``: dicts of tensors by parameter name (importance None: 1
    everywhere, the plain L2 pull). Subclasses fill it in :meth:`on_wake_end`; the penalty, the
    state and its checks are here. No sleep: these are cortical baselines, the student stays
    untrained.

    Args:
        strength: the coefficient lambda of ``(lambda / 2) * sum_terms sum_i w_i (theta_i - a_i)^2``.
        the setting named by :attr:`samples_setting` and ``seed``: for importances estimated at
            memory states, how many states and the seed of their choice (:meth:`sampled_states`).
    """

    #: the setting that counts the memory states an importance is estimated at (None: no states)
    samples_setting: str | None = None

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        check_number("strength", self.settings.strength, 0.0)
        self.strength = float(self.settings.strength)
        if self.samples_setting is not None:
            check_number(self.samples_setting, getattr(self.settings, self.samples_setting), 1, integer=True)
            check_number("seed", self.settings.seed, 0, integer=True)
        self.terms: dict[str, tuple[Tensors, Tensors | None]] = {}

    def sampled_states(self, memory: EpisodicMemory, task: int, what: str) -> tuple[torch.Tensor, torch.Generator]:
        """The memory states of ``task`` at which ``what`` is estimated, and the generator that chose
        them (it depends only on the seed and the task: a resumed run draws the same numbers)."""
        generator = task_generator(self.settings.seed, task)
        obs = memory_states(memory, task, int(getattr(self.settings, self.samples_setting)), generator)
        if len(obs) == 0:
            raise ValueError(f"{self.name}: task {task} has no memories to estimate {what} at")
        return obs, generator

    def plain_wake(self, task: int) -> bool:
        """Before the first anchor there is no penalty: that wake is plain fine-tuning."""
        return not self.terms

    def wake_penalty(self, learner: CorticalLearner) -> torch.Tensor | None:
        """The quadratic penalty on the live actor parameters; None (no penalty) before the first anchor."""
        if not self.terms:
            return None
        params = actor_parameters(learner)
        total = torch.zeros((), dtype=torch.float32)
        for key, (anchor, importance) in self.terms.items():
            if anchor.keys() != params.keys():
                raise ValueError(f"{self.name}: anchor {key!r} has parameters {sorted(anchor)}, the cortical actor "
                                 f"has {sorted(params)}: was the agent's net_arch or algorithm changed?")
            for name, theta in params.items():
                squared = (theta - anchor[name]).square()
                total = total + (squared.sum() if importance is None else (importance[name] * squared).sum())
        return 0.5 * self.strength * total

    def state_dict(self) -> dict[str, Any]:
        """``{"anchor": {key: {name: tensor}}, "importance": {key: {name: tensor}}}`` (tensors only)."""
        return {"anchor": {k: dict(a) for k, (a, _) in self.terms.items()},
                "importance": {k: dict(w) for k, (_, w) in self.terms.items() if w is not None}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        importance = state.get("importance", {})
        self.terms = {str(k): (dict(a), dict(importance[k]) if k in importance else None)
                      for k, a in state.get("anchor", {}).items()}

    def anchor_running(self, learner: CorticalLearner, new: Tensors, decay: float, key: str) -> None:
        """One running term under ``key``: importance <- decay * importance + ``new``, anchored
        at the current actor (online EWC with decay gamma, MAS with decay 1)."""
        if key in self.terms:
            old = self.terms[key][1]
            new = {name: decay * old[name] + value for name, value in new.items()}
        self.terms = {key: (self.snapshot(learner), new)}

    @staticmethod
    def snapshot(learner: CorticalLearner) -> Tensors:
        """A detached copy of the actor parameters (an anchor)."""
        return {k: p.detach().clone() for k, p in actor_parameters(learner).items()}
