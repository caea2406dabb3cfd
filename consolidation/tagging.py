"""Wake-time tagging: an SB3 callback that labels the learner's own experience with the cortical
action distribution, a dopamine-like TD error and an acetylcholine-like novelty (a model of
:mod:`consolidation.novelty`), and stores it in the episodic memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from consolidation.memory import EpisodicMemory
from consolidation.novelty import ForwardModelNovelty

_SQUASH_EPSILON = 1e-6  # as in SB3's SquashedDiagGaussianDistribution


class MemoryTaggingCallback(BaseCallback):
    """Tag every wake transition of an SB3 learner and offer it to ``memory`` (``task``, ``phase``).

    Stored per transition: observation, the cortical action distribution (mean and log std of the
    Gaussian; for SAC, the Gaussian *before* the tanh squashing), the action executed in the env,
    reward, TD error, novelty, the next observation with the factor on its value in the TD target
    (``bootstrap``: the ``1 - episode_start`` or ``1 - done`` below), and the learner's
    ``num_timesteps`` right after the step that produced it. Novelty comes from ``novelty`` (a
    :mod:`consolidation.novelty` model, called with the observations, executed actions, next
    observations and whether each next observation follows in the same episode), judged before
    the model learns from the batch.

    The executed action, in the env's units: PPO's rollout buffer holds the unclipped Gaussian
    sample, which SB3 clips to the action box before stepping the env, so it is clipped here the
    same way; SAC's replay buffer holds the squashed action rescaled to [-1, 1], mapped back to
    the box (the same action when the box is [-1, 1]); SAC's random warm-up actions
    (``learning_starts``) are stored too, since the agent took them.

    - PPO (on-policy): tags the whole rollout buffer at the end of each rollout, time-major.
      delta_t = r_t + gamma * V(s_{t+1}) * (1 - episode_start_{t+1}) - V(s_t), the last step using
      the rollout's last values and dones. On time-limit truncations SB3 has already added
      gamma * V(terminal obs) to r_t, so delta is the bootstrapped error there too.
    - SAC (off-policy): every ``tag_every`` calls (vectorised env steps, each ``n_envs``
      transitions) tags the replay-buffer rows added since the last tag, and the rest at the end
      of training. delta = r + gamma * (1 - done) * (min_i Q'_i(s', a') - alpha log pi(a'|s'))
      - min_i Q_i(s, a), with done excluding time-outs, and a' = tanh(mean) the actor's
      deterministic action, so no random number is drawn.

    The learner's behaviour is unchanged: forward passes run without gradients or sampling, and the
    memory and novelty own their state. ``transitions_tagged`` and ``seconds_tagging`` measure the
    overhead.
    """

    def __init__(self, memory: EpisodicMemory, task: int, phase: int,
                 novelty: Callable[..., np.ndarray] | None = None, tag_every: int = 1000, verbose: int = 0):
        super().__init__(verbose)
        for name, value in (("task", task), ("phase", phase)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 0")
        if isinstance(tag_every, bool) or not isinstance(tag_every, int) or tag_every < 1:
            raise ValueError(f"tag_every={tag_every!r} is not allowed: expected an integer >= 1")
        self.memory, self.task, self.phase, self.tag_every = memory, task, phase, tag_every
        self.novelty = ForwardModelNovelty() if novelty is None else novelty
        self.transitions_tagged, self.seconds_tagging = 0, 0.0
        #: mean |TD error| and mean novelty of the latest tagged batch (read by wake gating)
        self.last_levels: dict[str, float] = {}
        self._start_row = self._start_timesteps = self._rows_tagged = 0

    # ------------------------------------------------------------------ hooks
    def _on_training_start(self) -> None:
        model = self.model
        obs_space, action_space = model.observation_space, model.action_space
        if not isinstance(action_space, spaces.Box) or action_space.shape != (
                self.memory.action_dim,):
            raise ValueError(f"action space {action_space} is not allowed: expected a Box of shape "
                             f"({self.memory.action_dim},) (the memory's action_dim)")
        if not isinstance(obs_space, spaces.Box) or obs_space.shape != (self.memory.obs_dim,):
            raise ValueError(f"observation space {obs_space} is not allowed: expected a Box of "
                             f"shape ({self.memory.obs_dim},) (the memory's obs_dim)")
        if isinstance(model, OffPolicyAlgorithm):
            if not hasattr(model.actor, "get_action_dist_params") or model.use_sde:
                raise ValueError(f"{type(model).__name__} is not allowed: off-policy tagging "
                                 "expects SAC without gSDE")
            if model.get_vec_normalize_env() is not None:
                raise ValueError("VecNormalize is not allowed with off-policy tagging: the replay "
                                 "buffer holds raw observations and rewards")
            self._start_row = model.replay_buffer.pos
            self._start_timesteps, self._rows_tagged = model.num_timesteps, 0
        elif not isinstance(model, OnPolicyAlgorithm):
            raise ValueError(f"{type(model).__name__} is not allowed: expected an on-policy "
                             "(PPO) or off-policy (SAC) stable-baselines3 algorithm")

    def _on_step(self) -> bool:
        if isinstance(self.model, OffPolicyAlgorithm) and self.n_calls % self.tag_every == 0:
            self._tag_replay(rows_stored=self.n_calls - 1)  # this call's step is not stored yet
        return True

    def _on_rollout_end(self) -> None:
        if isinstance(self.model, OnPolicyAlgorithm):
            self._tag_rollout()

    def _on_training_end(self) -> None:
        if isinstance(self.model, OffPolicyAlgorithm):
            buffer = self.model.replay_buffer
            stored_all = (self._start_row + self.n_calls) % buffer.buffer_size == buffer.pos
            self._tag_replay(rows_stored=self.n_calls if stored_all else self.n_calls - 1)

    # ------------------------------------------------------------------ on-policy
    def _tag_rollout(self) -> None:
        started = time.perf_counter()
        model, buffer = self.model, self.model.rollout_buffer
        n_steps, n_envs = buffer.buffer_size, buffer.n_envs
        values, starts = buffer.values, buffer.episode_starts
        last_values = self.locals["values"].detach().cpu().numpy().reshape(1, n_envs)
        dones = np.asarray(self.locals["dones"], dtype=np.float32).reshape(1, n_envs)
        next_values = np.concatenate([values[1:], last_values])
        next_nonterminal = 1.0 - np.concatenate([starts[1:], dones])
        td_error = buffer.rewards + model.gamma * next_values * next_nonterminal - values
        steps = model.num_timesteps - (n_steps - 1 - np.arange(n_steps)) * n_envs
        obs = buffer.observations.reshape(n_steps * n_envs, -1)
        # the observation after each step: the next row, or the env's latest after the last step;
        # not a successor where the next row starts a new episode (it is a reset observation)
        latest = np.asarray(self.locals["new_obs"], dtype=obs.dtype).reshape(1, n_envs, -1)
        next_obs = np.concatenate([buffer.observations[1:], latest]).reshape(n_steps * n_envs, -1)
        valid = (next_nonterminal > 0).reshape(n_steps * n_envs)
        space = model.action_space
        actions = np.clip(buffer.actions.reshape(n_steps * n_envs, -1), space.low, space.high)
        with th.no_grad():
            obs_t = th.as_tensor(obs, device=model.device)
            dist = model.policy.get_distribution(obs_t).distribution
            mean, log_std = dist.mean, dist.stddev.log()
        self._store(obs, mean, log_std, actions, buffer.rewards, td_error, np.repeat(steps, n_envs),
                    started, next_obs, valid, next_nonterminal.reshape(n_steps * n_envs))

    # ------------------------------------------------------------------ off-policy
    def _tag_replay(self, rows_stored: int) -> None:
        model, buffer = self.model, self.model.replay_buffer
        # Rows overwritten before being tagged (tag_every > buffer_size) are lost to memory.
        first = max(self._rows_tagged, rows_stored - buffer.buffer_size)
        if rows_stored <= first:
            return
        started = time.perf_counter()
        rows = np.arange(first, rows_stored)
        index = (self._start_row + rows) % buffer.buffer_size
        n = len(index) * buffer.n_envs
        if buffer.optimize_memory_usage:
            next_obs = buffer.observations[(index + 1) % buffer.buffer_size]
        else:
            next_obs = buffer.next_observations[index]
        obs = buffer.observations[index].reshape(n, -1)
        actions = model.policy.unscale_action(buffer.actions[index].reshape(n, -1))
        rewards = buffer.rewards[index].reshape(n)
        terminal = (buffer.dones[index] * (1 - buffer.timeouts[index])).reshape(n)

        def tensor(array):
            return th.as_tensor(np.asarray(array, dtype=np.float32), device=model.device)

        with th.no_grad():
            obs_t, next_obs_t = tensor(obs), tensor(next_obs.reshape(n, -1))
            mean, log_std, _ = model.actor.get_action_dist_params(obs_t)
            next_mean, next_log_std, _ = model.actor.get_action_dist_params(next_obs_t)
            next_action = th.tanh(next_mean)
            next_log_prob = (-next_log_std - 0.5 * math.log(2 * math.pi)
                             - th.log(1 - next_action**2 + _SQUASH_EPSILON)).sum(dim=1)
            alpha = (th.exp(model.log_ent_coef.detach()) if model.log_ent_coef is not None
                     else model.ent_coef_tensor)
            q_next = th.cat(model.critic_target(next_obs_t, next_action), dim=1).min(dim=1).values
            q = th.cat(model.critic(obs_t, tensor(buffer.actions[index].reshape(n, -1))),
                       dim=1).min(dim=1).values
            target = tensor(rewards) + model.gamma * (1 - tensor(terminal)) * (
                q_next - alpha * next_log_prob)
            td_error = (target - q).cpu().numpy()
        steps = self._start_timesteps + (rows + 1) * buffer.n_envs
        self._rows_tagged = rows_stored
        self._store(obs, mean, log_std, actions, rewards, td_error, np.repeat(steps, buffer.n_envs),
                    started, next_obs.reshape(n, -1), np.ones(n, dtype=bool), 1.0 - terminal)

    # ------------------------------------------------------------------ shared
    def _store(self, obs, mean, log_std, actions, rewards, td_error, steps, started: float, next_obs,
               valid, bootstrap) -> None:
        n = len(obs)
        mean = mean.cpu().numpy().reshape(n, -1)
        log_std = np.broadcast_to(log_std.cpu().numpy(), mean.shape)
        rewards, td_error = np.asarray(rewards).reshape(n), np.asarray(td_error).reshape(n)
        novelty = self.novelty(obs, actions, next_obs, valid)
        self.memory.add(self.task, self.phase, obs, mean, log_std, rewards, td_error, novelty,
                        step=steps.astype(np.int64), action=actions, next_obs=next_obs, bootstrap=bootstrap)
        self.last_levels = {"td_error": float(np.abs(td_error).mean()), "novelty": float(novelty.mean())}
        self.transitions_tagged += n
        self.seconds_tagging += time.perf_counter() - started
        self.logger.record("tagging/transitions", self.transitions_tagged)
        self.logger.record("tagging/seconds", self.seconds_tagging)
        self.logger.record("tagging/td_error_abs_mean", float(np.abs(td_error).mean()))
        self.logger.record("tagging/novelty_mean", float(novelty.mean()))
