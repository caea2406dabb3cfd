"""Vectorised envs of a task family for the cortical learner: one context, or several dealt
round-robin over the env copies (multitask)."""

from __future__ import annotations

import functools

from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.family import TaskFamily


def make_vec(family: TaskFamily, labels: list[str], n_envs: int, seed: int):
    """``n_envs`` envs of the given contexts, dealt round-robin (several contexts: multitask)."""
    if len(labels) == 1:
        return make_vec_env(family.env_id, n_envs=n_envs, seed=seed, env_kwargs=family.env_kwargs_for(labels[0]))
    if n_envs < len(labels):
        raise ValueError(f"agent.n_envs={n_envs} is too small to step {len(labels)} contexts together: "
                         f"expected at least {len(labels)}")
    makers = [functools.partial(_monitored, family, labels[i % len(labels)]) for i in range(n_envs)]
    venv = DummyVecEnv(makers)
    venv.seed(seed)
    return venv


def _monitored(family: TaskFamily, label: str):
    return Monitor(family.make_env(label))
