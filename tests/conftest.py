"""Shared fixtures of the env tests: an env factory that always closes, and seeded rollouts.

Everything runs real MuJoCo (no mocks). Rollouts are short: the whole env suite must stay
fast on a small shared machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import gymnasium
import numpy as np
import pytest

import envs  # noqa: F401  (registers the motorsleep/* ids)


@dataclass
class Rollout:
    """Everything one seeded episode produced, step by step (index 0 is the reset)."""

    obs: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminated: list[bool] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    infos: list[dict] = field(default_factory=list)
    qpos: list[np.ndarray] = field(default_factory=list)
    qvel: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rewards)

    def assert_identical(self, other: Rollout) -> None:
        """Bit-for-bit equality of two rollouts, including every numeric info field."""
        assert len(self) == len(other)
        np.testing.assert_array_equal(np.array(self.obs), np.array(other.obs))
        np.testing.assert_array_equal(np.array(self.qpos), np.array(other.qpos))
        np.testing.assert_array_equal(np.array(self.qvel), np.array(other.qvel))
        assert self.rewards == other.rewards
        assert self.terminated == other.terminated
        assert self.truncated == other.truncated
        for mine, theirs in zip(self.infos, other.infos, strict=True):
            assert mine.keys() == theirs.keys()
            for key, value in mine.items():
                if isinstance(value, (bool, int, float, np.number, np.bool_)):
                    assert value == theirs[key], key


def random_actions(env: gymnasium.Env, seed: int, n: int) -> np.ndarray:
    """``n`` uniform actions of ``env``'s action space, from a generator independent of the env."""
    space = env.action_space
    rng = np.random.default_rng(seed)
    return rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(space.dtype)


def run(env: gymnasium.Env, seed: int, actions: np.ndarray, options: dict | None = None) -> Rollout:
    """Reset ``env`` with ``seed`` and play ``actions`` until they run out or the episode ends."""
    out = Rollout()
    data = env.unwrapped.data
    obs, info = env.reset(seed=seed, options=options)
    out.obs.append(obs)
    out.infos.append(info)
    out.qpos.append(data.qpos.copy())
    out.qvel.append(data.qvel.copy())
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.obs.append(obs)
        out.rewards.append(float(reward))
        out.terminated.append(bool(terminated))
        out.truncated.append(bool(truncated))
        out.infos.append(info)
        out.qpos.append(data.qpos.copy())
        out.qvel.append(data.qvel.copy())
        if terminated or truncated:
            break
    return out


@pytest.fixture
def make_env() -> Iterator[Callable[..., gymnasium.Env]]:
    """``make_env(id, **kwargs)`` is ``gymnasium.make``; every env made is closed at teardown."""
    made: list[gymnasium.Env] = []

    def _make(env_id: str, **kwargs) -> gymnasium.Env:
        env = gymnasium.make(env_id, **kwargs)
        made.append(env)
        return env

    yield _make
    for env in made:
        env.close()


@pytest.fixture
def rollout() -> Callable[..., Rollout]:
    """``rollout(env, seed, actions, options=None)``: see :func:`run`."""
    return run


@pytest.fixture
def actions() -> Callable[[gymnasium.Env, int, int], np.ndarray]:
    """``actions(env, seed, n)``: see :func:`random_actions`."""
    return random_actions


@pytest.fixture(autouse=True, scope="session")
def _phase_cache_off_unless_asked() -> Iterator[None]:
    """Tests compute every phase (a cached phase would hide what they test) and never write the
    repo's cache; tests of the cache pass ``cache.enabled=true cache.dir=<tmp>`` themselves."""
    import os

    before = os.environ.get("MOTORSLEEP_CACHE_ENABLED")
    os.environ["MOTORSLEEP_CACHE_ENABLED"] = "false"
    yield
    if before is None:
        os.environ.pop("MOTORSLEEP_CACHE_ENABLED", None)
    else:
        os.environ["MOTORSLEEP_CACHE_ENABLED"] = before
