"""Vectorised envs of a task family for the cortical learner: one context, or several dealt
round-robin over the env copies (multitask).

SB3's DummyVecEnv returns ``deepcopy`` of its per-env info dicts after every step, in case an
env hands back the same dict object twice. Our envs (and Monitor, and DummyVecEnv itself) put a
new dict in that buffer at every step, so a copy of each dict is enough: the deep copy was a
fifth of the time the awake control spends stepping (cProfile, reach). :class:`FreshInfos`
makes ``deepcopy`` of the buffer a list of dict copies; every value returned is unchanged
(tests/test_vector.py compares the two step by step)."""

from __future__ import annotations

import functools

from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.family import TaskFamily, to_unit_box


class FreshInfos(list):
    """DummyVecEnv's info buffer when every env step builds new info dicts: copying the
    buffer copies each dict (its values are new objects of that step already)."""

    def __deepcopy__(self, memo: dict) -> list[dict]:
        return [dict(info) for info in self]


def make_vec(family: TaskFamily, labels: list[str], n_envs: int, seed: int) -> DummyVecEnv:
    """``n_envs`` envs of the given contexts, dealt round-robin (several contexts: multitask)."""
    if len(labels) == 1:
        venv = make_vec_env(family.env_id, n_envs=n_envs, seed=seed, env_kwargs=family.env_kwargs_for(labels[0]),
                            wrapper_class=to_unit_box)
    elif n_envs < len(labels):
        raise ValueError(f"agent.n_envs={n_envs} is too small to step {len(labels)} contexts together: "
                         f"expected at least {len(labels)}")
    else:
        makers = [functools.partial(_monitored, family, labels[i % len(labels)]) for i in range(n_envs)]
        venv = DummyVecEnv(makers)
        venv.seed(seed)
    venv.buf_infos = FreshInfos(venv.buf_infos)
    return venv


def _monitored(family: TaskFamily, label: str):
    return Monitor(family.make_env(label))
