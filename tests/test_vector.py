"""envs/vector.py: the learner's VecEnvs step exactly like SB3's own, with cheaper info copies."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env

from envs.family import TaskFamily
from envs.vector import FreshInfos, make_vec

FAMILIES = {
    "reach": TaskFamily("reach", {"A": "curl_cw", "B": "curl_ccw"}, context_cue=True),
    "balance": TaskFamily("balance", {"A": "tilt_left", "B": "tilt_right"}, context_cue=True),
}


def _same_info(a: dict, b: dict) -> bool:
    """Equal infos; Monitor's episode summary is compared without its wall-clock time ``t``."""
    if a.keys() != b.keys():
        return False
    for key in a:
        if key == "episode":
            if {k: v for k, v in a[key].items() if k != "t"} != {k: v for k, v in b[key].items() if k != "t"}:
                return False
        elif isinstance(a[key], np.ndarray):
            if not np.array_equal(a[key], b[key]):
                return False
        elif a[key] != b[key]:
            return False
    return True


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_make_vec_steps_like_sb3s_dummy_vec_env_across_episode_ends(family):
    """Same seed, same actions: observations, rewards, dones and every info (episode ends and
    terminal observations included) equal those of SB3's unmodified make_vec_env."""
    fam = FAMILIES[family]
    ours = make_vec(fam, ["A"], n_envs=2, seed=3)
    reference = make_vec_env(fam.env_id, n_envs=2, seed=3, env_kwargs=fam.env_kwargs_for("A"))
    assert isinstance(ours.buf_infos, FreshInfos)
    assert np.array_equal(ours.reset(), reference.reset())
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(fam.max_episode_steps + 5):  # at least one episode end in each env
        action = rng.uniform(-1.0, 1.0, size=(2, *ours.action_space.shape)).astype(np.float32)
        obs, rewards, dones, infos = ours.step(action)
        obs_ref, rewards_ref, dones_ref, infos_ref = reference.step(action)
        assert np.array_equal(obs, obs_ref) and np.array_equal(rewards, rewards_ref)
        assert np.array_equal(dones, dones_ref)
        assert all(_same_info(a, b) for a, b in zip(infos, infos_ref, strict=True))
        ends += int(dones.sum())
    assert ends >= 2


def test_returned_infos_are_copies_not_the_buffer():
    """Changing a returned info dict changes neither the buffer nor the next step's infos."""
    venv = make_vec(FAMILIES["reach"], ["A"], n_envs=2, seed=0)
    venv.reset()
    action = np.zeros((2, *venv.action_space.shape), dtype=np.float32)
    infos = venv.step(action)[3]
    assert all(info is not buffered for info, buffered in zip(infos, venv.buf_infos, strict=True))
    infos[0]["distance"] = "changed"
    assert venv.buf_infos[0]["distance"] != "changed"
    assert venv.step(action)[3][0]["distance"] != "changed"


def test_multitask_vec_env_keeps_the_cheap_copy():
    venv = make_vec(FAMILIES["reach"], ["A", "B"], n_envs=2, seed=0)
    assert isinstance(venv.buf_infos, FreshInfos)
    copied = copy.deepcopy(venv.buf_infos)
    assert type(copied) is list and copied == list(venv.buf_infos)
