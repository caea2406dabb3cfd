"""The cortical learner: a large stable-baselines3 PPO or SAC policy trained online in wake."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from agents.guards import action_std_finite
from agents.plasticity import Plasticity
from agents.plasticity_diagnostics import PlasticityLogger

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC}

class CorticalPolicy(ActorCriticPolicy):
    """SB3's PPO actor-critic, optionally with a tanh-bounded Gaussian mean and LayerNorm.

    ``bounded_mean``: with a linear mean, PPO on these tasks drove the mean far outside [-1, 1]
    when learning a conflicting context (58% of means beyond the bounds, up to 9, after a
    switch of curl field): every sample is then clipped to the same command, advantages carry
    no signal, and the cortex stops learning. A tanh-bounded mean keeps the policy plastic.
    The student (agents/subcortical.py) uses the same bounded mean, so the KL stays exact.

    ``layer_norm``: a LayerNorm before every hidden activation of actor and critic (a
    plasticity remedy, agents/plasticity.py).
    """

    def __init__(self, *args, bounded_mean: bool = True, layer_norm: bool = False, **kwargs) -> None:
        self.bounded_mean, self.layer_norm = bool(bounded_mean), bool(layer_norm)
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        super()._build_mlp_extractor()
        if self.layer_norm:
            extractor = self.mlp_extractor
            extractor.policy_net = _with_layer_norm(extractor.policy_net).to(self.device)
            extractor.value_net = _with_layer_norm(extractor.value_net).to(self.device)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        if self.bounded_mean:
            # Tanh has no parameters: the optimizer built by super() already holds all of them
            self.action_net = nn.Sequential(self.action_net, nn.Tanh())

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "bounded_mean": self.bounded_mean,
                "layer_norm": self.layer_norm}


def _with_layer_norm(net: nn.Sequential) -> nn.Sequential:
    """The same MLP with a LayerNorm between each Linear and its activation."""
    modules: list[nn.Module] = []
    for module in net:
        modules.append(module)
        if isinstance(module, nn.Linear):
            modules.append(nn.LayerNorm(module.out_features))
    return nn.Sequential(*modules)


#: The class's name before 72dc449: cortices saved earlier (results/strip_run) unpickle by it.
BoundedMeanPolicy = CorticalPolicy


class CorticalLearner:
    """The large, plastic cortical policy learned online in wake (the ``agent`` config option).

    Wraps an SB3 algorithm so that the protocol can train it on one context after another
    (it keeps its weights across contexts: it is the system that forgets), read its action
    distribution for distillation, and evaluate it like any policy.

    Args:
        algorithm: ``ppo`` or ``sac``.
        net_arch: hidden layers of actor and critic (large by default: 256x256).
        n_envs: parallel copies of the env in one process.
        hyperparameters: keyword arguments of the SB3 algorithm (learning_rate, n_steps, ...);
            ``policy_kwargs`` entries other than ``net_arch`` go there too.
        progress_bar: show SB3's own rich progress bar during wake (the labelled progress lines of
            every phase are runner/progress.py's, the ``progress`` config node).
        bounded_mean: PPO only: tanh-bounded Gaussian mean (:class:`CorticalPolicy`).
        reset_optimizer_on_switch: clear the optimizers' moment estimates when the context
            changes. Adam's second moments, shrunk at the end of a converged task, make the
            first updates on a new context huge (Asadi et al. 2023, "Resetting the optimizer in
            deep RL"); the weights, and so the memory of the old task, are untouched.
        plasticity: a remedy for the loss of plasticity (agents/plasticity.py; None: none).
        diagnostics_every: log the plasticity diagnostics (agents/plasticity_diagnostics.py)
            every this many rollouts of PPO (0: never).
    """

    def __init__(self, algorithm: str = "ppo", net_arch: list[int] | tuple[int, ...] = (256, 256),
                 n_envs: int = 8, hyperparameters: Mapping[str, Any] | None = None,
                 progress_bar: bool = False, bounded_mean: bool = True,
                 reset_optimizer_on_switch: bool = True, plasticity: Plasticity | None = None,
                 diagnostics_every: int = 0) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"agent.algorithm={algorithm!r} is not allowed: expected one of {sorted(ALGORITHMS)}")
        if not net_arch or any(int(h) < 1 for h in net_arch):
            raise ValueError(f"agent.net_arch={list(net_arch)!r} is not allowed: "
                             "expected a non-empty list of integers >= 1")
        if int(n_envs) < 1:
            raise ValueError(f"agent.n_envs={n_envs!r} is not allowed: expected an integer >= 1")
        self.algorithm, self.net_arch, self.n_envs = algorithm, [int(h) for h in net_arch], int(n_envs)
        self.hyperparameters = _plain(hyperparameters or {})
        _check_hyperparameters(algorithm, self.hyperparameters)
        self.progress_bar = bool(progress_bar)
        self.bounded_mean = bool(bounded_mean) and algorithm == "ppo"
        self.reset_optimizer_on_switch = bool(reset_optimizer_on_switch)
        self.plasticity = plasticity if plasticity is not None else Plasticity()
        self.plasticity.check(algorithm)
        if self.plasticity.policy_kwargs().get("layer_norm") and not self.bounded_mean:
            raise ValueError(f"agent.plasticity={self.plasticity.name!r} needs agent.bounded_mean=true "
                             "(its LayerNorm is built into the cortical PPO policy)")
        if int(diagnostics_every) < 0:
            raise ValueError(f"agent.diagnostics_every={diagnostics_every!r} is not allowed: expected an integer >= 0")
        self.diagnostics_every = int(diagnostics_every)
        self.model: BaseAlgorithm | None = None
        self._penalty_hooks: list = []

    def build(self, venv, seed: int) -> BaseAlgorithm:
        """Create the SB3 model on its first env (later contexts call :meth:`set_env`)."""
        kwargs = dict(self.hyperparameters)
        policy_kwargs = {**kwargs.pop("policy_kwargs", {}), "net_arch": list(self.net_arch)}
        policy_kwargs.update(self.plasticity.policy_kwargs())
        policy = CorticalPolicy if self.bounded_mean else "MlpPolicy"   # layer_norm needs CorticalPolicy
        self.model = ALGORITHMS[self.algorithm](policy, venv, seed=seed, verbose=0,
                                                policy_kwargs=policy_kwargs, **kwargs)
        self.plasticity.attach(self.model)
        return self.model

    def load(self, path) -> BaseAlgorithm:
        """Restore the model saved by a finished phase (SB3's zip; see runner/checkpoints.py)."""
        self.model = ALGORITHMS[self.algorithm].load(path, device="cpu")
        self.plasticity.attach(self.model)
        return self.model

    def learn(self, steps: int, callback=None) -> None:
        """Continue training for ``steps`` env steps on the current env (timesteps keep counting)."""
        callbacks = list(callback) if isinstance(callback, list | tuple) else [callback] if callback else []
        remedy = self.plasticity.callback()
        if remedy is not None:
            callbacks.append(remedy)
        if self.diagnostics_every and self.algorithm == "ppo":
            callbacks.append(PlasticityLogger(every=self.diagnostics_every))
        self.model.learn(steps, callback=callbacks or None, reset_num_timesteps=False,
                         progress_bar=self.progress_bar)

    def set_wake_penalty(self, penalty) -> None:
        """Add ``penalty()`` (a differentiable loss, or None) to every update of the cortex.

        Implemented as a pre-step hook on the optimizer that updates the policy (PPO: actor and
        critic; SAC: the actor): SB3's own update is untouched, the penalty's gradient is added
        to the gradient SB3 computed, after its gradient clipping. ``None`` removes it.
        """
        for handle in self._penalty_hooks:
            handle.remove()
        self._penalty_hooks = []
        if penalty is None:
            return

        def add_penalty_gradient(optimizer, args, kwargs) -> None:
            loss = penalty()
            if loss is not None:
                loss.backward()

        optimizer = self.model.actor.optimizer if self.algorithm == "sac" else self.model.policy.optimizer
        self._penalty_hooks.append(optimizer.register_step_pre_hook(add_penalty_gradient))

    def policy_finite(self) -> bool:
        """Whether the policy can still act: every weight finite and, for PPO, the Gaussian's
        std exp(log_std) finite and positive (a huge step can push log_std out of float range
        while every weight stays finite)."""
        return (all(bool(torch.isfinite(p).all()) for p in self.model.policy.parameters())
                and action_std_finite(self.model.policy))

    def set_env(self, venv, context_changed: bool = True) -> None:
        """Continue on another env (weights kept; optimizer moments reset on a context switch
        if configured)."""
        self.model.set_env(venv)
        if context_changed and self.reset_optimizer_on_switch:
            for optimizer in self.optimizers():
                optimizer.state.clear()  # Adam re-initialises its moments lazily
        if context_changed:
            self.plasticity.on_context_switch(self.model.policy)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Every optimizer of the SB3 model (PPO: one; SAC: actor, critic, entropy coefficient)."""
        candidates = [getattr(self.model.policy, "optimizer", None),
                      getattr(getattr(self.model, "actor", None), "optimizer", None),
                      getattr(getattr(self.model, "critic", None), "optimizer", None),
                      getattr(self.model, "ent_coef_optimizer", None)]
        return [o for o in candidates if isinstance(o, torch.optim.Optimizer)]

    @torch.no_grad()
    def action_distribution(self, obs: np.ndarray, batch: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """Mean and log-std of the policy's Gaussian at ``obs`` (the distillation teacher)."""
        means, log_stds = [], []
        policy = self.model.policy
        for start in range(0, len(obs), batch):
            tensor = torch.as_tensor(obs[start:start + batch], dtype=torch.float32, device=policy.device)
            if self.algorithm == "sac":
                mean, log_std, _ = policy.actor.get_action_dist_params(tensor)
            else:
                dist = policy.get_distribution(tensor).distribution
                mean, log_std = dist.mean, dist.stddev.log()
            means.append(mean.cpu().numpy())
            log_stds.append(log_std.cpu().numpy())
        return np.concatenate(means), np.concatenate(log_stds)

    @torch.no_grad()
    def td_errors(self, obs: np.ndarray, reward: np.ndarray, next_obs: np.ndarray, bootstrap: np.ndarray,
                  batch: int = 8192) -> np.ndarray:
        """delta = r + gamma * bootstrap * V(s') - V(s) with the critic as it is now: the
        dopamine-like tag recomputed in sleep. PPO only (SAC's critic values actions, not states)."""
        if self.algorithm != "ppo":
            raise ValueError(f"recomputing TD errors needs a state-value critic: agent.algorithm={self.algorithm!r} "
                             "is not allowed, expected 'ppo' (or consolidation.gating.td_source='stored')")
        policy, values = self.model.policy, []
        for states in (obs, next_obs):
            parts = [policy.predict_values(torch.as_tensor(states[start:start + batch], dtype=torch.float32,
                                                           device=policy.device)).cpu().numpy().reshape(-1)
                     for start in range(0, len(states), batch)]
            values.append(np.concatenate(parts) if parts else np.empty(0, dtype=np.float32))
        return reward + self.model.gamma * bootstrap * values[1] - values[0]

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action (evaluation)."""
        return self.model.predict(obs, deterministic=True)[0]

    @property
    def n_actor_parameters(self) -> int:
        """Parameters that produce actions (for the student/teacher ratio); critics excluded."""
        policy = self.model.policy
        if self.algorithm == "sac":
            modules = [policy.actor]
        else:
            modules = [policy.mlp_extractor.policy_net, policy.action_net]
        count = sum(p.numel() for m in modules for p in m.parameters())
        if self.algorithm == "ppo":
            count += policy.log_std.numel()
        return int(count)

    def multiply_adds(self) -> int:
        obs_dim = self.model.observation_space.shape[0]
        act_dim = self.model.action_space.shape[0]
        widths = [obs_dim, *self.net_arch, act_dim]
        return sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))


# hyperparameters that must be positive numbers when given as numbers (not schedules)
POSITIVE_HYPERPARAMETERS = ("learning_rate", "n_steps", "batch_size", "n_epochs", "gamma", "buffer_size",
                            "train_freq", "gradient_steps", "clip_range", "max_grad_norm")


def _check_hyperparameters(algorithm: str, hyperparameters: Mapping[str, Any]) -> None:
    accepted = set(inspect.signature(ALGORITHMS[algorithm].__init__).parameters) - {"self", "policy", "env"}
    unknown = sorted(set(hyperparameters) - accepted)
    if unknown:
        raise ValueError(f"agent.hyperparameters has {unknown}, unknown to {ALGORITHMS[algorithm].__name__}: "
                         f"allowed are {sorted(accepted)}")
    for name in POSITIVE_HYPERPARAMETERS:
        value = hyperparameters.get(name)
        if isinstance(value, int | float) and not (math.isfinite(value) and value > 0):
            raise ValueError(f"agent.hyperparameters.{name}={value!r} is not allowed: expected a finite number > 0")
    gamma = hyperparameters.get("gamma")
    if isinstance(gamma, int | float) and gamma > 1:
        raise ValueError(f"agent.hyperparameters.gamma={gamma!r} is not allowed: expected a number in (0, 1]")


def _plain(value: Any) -> Any:
    """OmegaConf containers to plain Python (SB3 checks types of some keywords)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or type(value).__name__ == "ListConfig":
        return [_plain(v) for v in value]
    return value
