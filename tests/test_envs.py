"""Gymnasium-contract tests of every registered motorsleep env (real MuJoCo, no mocks).

Each test runs for every id in ``envs.REGISTERED_IDS``, so a new preset context is covered
as soon as it is registered. Rollouts are kept short so the file runs in seconds.
"""

from __future__ import annotations

import math
import pickle

import gymnasium
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs import BALANCE_CONTEXTS, FAMILY_MAX_STEPS, REACH_CONTEXTS, REGISTERED_IDS, STAND_CONTEXTS

ALL_IDS = list(REGISTERED_IDS)
REACH_IDS = [i for i, (family, _) in REGISTERED_IDS.items() if family == "reach"]
BALANCE_IDS = [i for i, (family, _) in REGISTERED_IDS.items() if family == "balance"]

# The info keys each family documents (class docstrings, "## Info").
DOCUMENTED_INFO_KEYS = {
    "reach": {"reward_dist", "reward_ctrl", "distance", "is_success", "context_id", "target_index"},
    "muscle_reach": {"reward_dist", "reward_ctrl", "distance", "is_success", "context_id", "target_index",
                     "catch_trial", "probe_trial", "channel_force"},
    "balance": {"reward_alive", "reward_ctrl", "pole_angle", "is_success", "context_id"},
    "stand": {"reward_posture", "reward_ctrl", "ankle_angle", "hip_angle", "com_x", "platform_shift",
              "platform_tilt", "is_success", "context_id"},
}
# Observation size without the context cue (class docstrings, "## Observation Space").
BASE_OBS_DIM = {"reach": 10, "muscle_reach": 16, "balance": 4, "stand": 6}

# Unbounded observation boxes are intentional (positions and velocities); the checkers' warning
# about them is noise here.
quiet_box_bounds = pytest.mark.filterwarnings("ignore:.*observation space (minimum|maximum) value")


def test_every_preset_context_has_a_registered_id():
    """Each named context of both families is reachable through ``gymnasium.make``."""
    expected = {("reach", name) for name in REACH_CONTEXTS}
    expected |= {("muscle_reach", name) for name in REACH_CONTEXTS}  # the muscle arm takes reach's contexts
    expected |= {("balance", name) for name in BALANCE_CONTEXTS}
    expected |= {("stand", name) for name in STAND_CONTEXTS}
    assert set(REGISTERED_IDS.values()) == expected
    for env_id, (family, context) in REGISTERED_IDS.items():
        assert envs.env_id_for(family, context) == env_id
        assert env_id in gymnasium.registry


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_registered_id_builds_its_preset_context(env_id, make_env):
    """The id's kwargs select the preset context it is named after, and it has a time limit."""
    family, context = REGISTERED_IDS[env_id]
    env = make_env(env_id)
    assert env.spec.max_episode_steps == FAMILY_MAX_STEPS[family]
    assert env.unwrapped.context == envs.resolve_context(family, context)


# -- third-party env checkers ----------------------------------------------------------------


@quiet_box_bounds
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_env_checker(env_id, make_env):
    """gymnasium's checker: spaces, seeding determinism, reset/step signatures, obs in space."""
    env = make_env(env_id)
    gymnasium_check_env(env.unwrapped, skip_render_check=True)


@quiet_box_bounds
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_env_checker(env_id, make_env):
    """stable-baselines3's checker: the agents train on these envs through SB3."""
    env = make_env(env_id)
    sb3_check_env(env, warn=True)


# -- determinism and seeding -----------------------------------------------------------------


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_seed_same_actions_give_identical_rollouts(env_id, make_env, rollout, actions):
    """Reproducibility: a seed and an action sequence determine the whole episode bit for bit."""
    first, second = make_env(env_id), make_env(env_id)
    plan = actions(first, 0, 40)
    a, b = rollout(first, 5, plan), rollout(second, 5, plan)
    assert len(a) > 0
    a.assert_identical(b)
    # and re-seeding the same env instance reproduces it too
    rollout(first, 5, plan).assert_identical(a)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_different_seeds_give_different_initial_observations(env_id, make_env):
    """The seed drives the initial-state noise (and the reach target)."""
    env = make_env(env_id)
    obs0, _ = env.reset(seed=0)
    obs1, _ = env.reset(seed=1)
    assert not np.allclose(obs0, obs1)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_no_observation_dimension_is_constant(env_id, make_env, rollout, actions):
    """Every observed dimension carries information (cue off, the default, so no one-hot)."""
    env = make_env(env_id)
    observations = []
    for seed in range(4):
        observations += rollout(env, seed, actions(env, seed, 20)).obs
    observations = np.array(observations)
    assert observations.shape[1] == BASE_OBS_DIM[REGISTERED_IDS[env_id][0]]
    constant = np.flatnonzero(np.ptp(observations, axis=0) < 1e-9)
    assert constant.size == 0, f"constant observation dimensions {constant.tolist()}"


# -- pickling and closing --------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_pickled_env_steps_like_a_fresh_one(env_id, make_env, rollout, actions):
    """Vectorised training pickles envs into worker processes: the copy must behave the same."""
    env = make_env(env_id)
    rollout(env, 3, actions(env, 3, 5))  # pickle mid-episode, not only a pristine env
    clone = pickle.loads(pickle.dumps(env))
    try:
        plan = actions(env, 1, 40)
        reference = rollout(make_env(env_id), 11, plan)
        rollout(clone, 11, plan).assert_identical(reference)
        rollout(env, 11, plan).assert_identical(reference)  # the original is unaffected
    finally:
        clone.close()


def test_pickle_keeps_every_constructor_argument(make_env):
    """EzPickle rebuilds the env from its recorded arguments: none may be dropped or shifted."""
    env = make_env("motorsleep/Reach-v0", context={"curl_field": 3.0, "rotation_deg": -10.0},
                   context_id=1, n_contexts=2, context_cue=True, n_targets=4, target_radius=0.08,
                   random_targets=True, distance_weight=2.0, ctrl_cost_weight=0.5,
                   success_tolerance=0.03, reset_noise_scale=0.02, gear=4.0, frame_skip=2)
    clone = pickle.loads(pickle.dumps(env)).unwrapped
    original = env.unwrapped
    for name in ("context", "context_id", "n_contexts", "context_cue", "n_targets", "target_radius",
                 "random_targets", "distance_weight", "ctrl_cost_weight", "success_tolerance",
                 "reset_noise_scale", "frame_skip"):
        assert getattr(clone, name) == getattr(original, name), name
    np.testing.assert_array_equal(clone.model.actuator_gear, original.model.actuator_gear)
    clone.close()

    env = make_env("motorsleep/Balance-v0", context={"mass_scale": 1.5}, context_id=2, n_contexts=3,
                   context_cue=True, healthy_reward=2.0, ctrl_cost_weight=0.1, max_pole_angle=0.3,
                   reset_noise_scale=0.02, gear=10.0, frame_skip=3)
    clone = pickle.loads(pickle.dumps(env)).unwrapped
    original = env.unwrapped
    for name in ("context", "context_id", "n_contexts", "context_cue", "healthy_reward",
                 "ctrl_cost_weight", "max_pole_angle", "reset_noise_scale", "frame_skip"):
        assert getattr(clone, name) == getattr(original, name), name
    np.testing.assert_array_equal(clone.model.actuator_gear, original.model.actuator_gear)
    np.testing.assert_array_equal(clone.model.body_mass, original.model.body_mass)
    clone.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_close_is_idempotent(env_id):
    """close() after use, and a second close(), must not raise (trainers close defensively)."""
    env = gymnasium.make(env_id)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.close()
    env.close()
    never_used = gymnasium.make(env_id)
    never_used.close()
    never_used.close()


# -- time limit, reward and info -------------------------------------------------------------


@pytest.mark.parametrize("env_id", REACH_IDS)
def test_reach_truncates_exactly_at_max_episode_steps(env_id, make_env, rollout):
    """Reach never terminates: every episode is max_episode_steps long, also after pickling."""
    env = make_env(env_id)
    n = env.spec.max_episode_steps
    zeros = np.zeros((n + 5, *env.action_space.shape), dtype=env.action_space.dtype)
    for candidate in (env, pickle.loads(pickle.dumps(env))):
        episode = rollout(candidate, 0, zeros)
        assert len(episode) == n
        assert episode.truncated == [False] * (n - 1) + [True]
        assert not any(episode.terminated)


def _reward_bounds(env: gymnasium.Env) -> tuple[float, float]:
    """The documented reward range of ``env``, from its own parameters.

    Reach: -distance_weight * |hand - target| - ctrl_cost_weight * |a|^2, with the hand within
    l1 + l2 of the shoulder, the target within |start| + target_radius of it and |a_i| <= 1 (the
    muscle arm, a ReachEnv, too: its excitations lie in [0, 1]).
    Balance: [-ctrl_cost_weight, healthy_reward] (|a| <= 1); stand: [-2 ctrl_cost_weight, healthy_reward]
    (two commands).
    """
    u = env.unwrapped
    n_act = env.action_space.shape[0]
    if isinstance(u, envs.ReachEnv):
        start = u.model.site("start").pos[:2]
        max_distance = sum(u.link_lengths) + float(np.linalg.norm(start)) + u.target_radius
        return -u.distance_weight * max_distance - u.ctrl_cost_weight * n_act, 0.0
    return -u.ctrl_cost_weight * n_act, u.healthy_reward


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_reward_is_bounded_and_equals_its_documented_terms(env_id, make_env, rollout, actions):
    """Rewards stay in the documented range on random rollouts and are the sum of the info terms."""
    env = make_env(env_id)
    low, high = _reward_bounds(env)
    n_steps = 0
    for seed in range(3):
        episode = rollout(env, seed, actions(env, seed, env.spec.max_episode_steps))
        n_steps += len(episode)
        for reward, info in zip(episode.rewards, episode.infos[1:], strict=True):
            assert low <= reward <= high
            terms = [v for k, v in info.items() if k.startswith("reward_")]
            assert len(terms) == 2
            assert reward == pytest.approx(sum(terms), abs=1e-12)
    assert n_steps >= 3


def test_balance_reward_bound_includes_the_control_cost(make_env, rollout, actions):
    """With a control cost the balance reward reaches below 0 but never below -ctrl_cost_weight."""
    env = make_env("motorsleep/Balance-v0", ctrl_cost_weight=0.3)
    low, high = _reward_bounds(env)
    assert (low, high) == (-0.3, 1.0)
    episode = rollout(env, 0, actions(env, 0, 100))
    rewards = np.array(episode.rewards)
    assert np.all((low <= rewards) & (rewards <= high))
    assert rewards.min() < 1.0  # the cost is actually charged


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_info_has_the_documented_keys(env_id, make_env, rollout, actions):
    """Analysis scripts read these keys; their values must be consistent with the step."""
    family, _ = REGISTERED_IDS[env_id]
    env = make_env(env_id)
    episode = rollout(env, 0, actions(env, 0, 20))
    assert "context_id" in episode.infos[0]  # reset info too
    for info, terminated in zip(episode.infos[1:], episode.terminated, strict=True):
        assert DOCUMENTED_INFO_KEYS[family] <= info.keys()
        assert info["context_id"] == 0
        assert isinstance(info["is_success"], bool)
        if family in ("reach", "muscle_reach"):
            assert info["is_success"] == (info["distance"] < env.unwrapped.success_tolerance)
            assert 0 <= info["target_index"] < env.unwrapped.n_targets
        else:
            assert info["is_success"] == (not terminated)  # upright so far, ends at the fall
        if family == "balance":
            assert terminated == (abs(info["pole_angle"]) > env.unwrapped.max_pole_angle)


@pytest.mark.parametrize("env_id", ["motorsleep/Reach-v0", "motorsleep/Balance-v0"])
def test_out_of_range_actions_are_clipped(env_id, make_env, rollout):
    """An action beyond [-1, 1] acts (and costs) exactly like its clipped value."""
    env = make_env(env_id, ctrl_cost_weight=0.1)
    shape = env.action_space.shape
    big = np.full((10, *shape), 5.0)
    big[::2] *= -1
    # the unwrapped env: gymnasium's passive checker would (rightly) warn about the raw actions
    raw = rollout(env.unwrapped, 0, big)
    clipped = rollout(env.unwrapped, 0, np.clip(big, -1.0, 1.0))
    raw.assert_identical(clipped)


# -- reach specifics -------------------------------------------------------------------------


def test_reach_reset_option_fixes_the_target(make_env):
    """reset(options={'target_index': k}) puts the target k/n of a turn around the start."""
    env = make_env("motorsleep/Reach-v0")
    u = env.unwrapped
    start = u.model.site("start").pos[:2]
    for k in range(u.n_targets):
        obs, info = env.reset(seed=0, options={"target_index": k})
        angle = 2 * math.pi * k / u.n_targets
        expected = start + u.target_radius * np.array([math.cos(angle), math.sin(angle)])
        assert info["target_index"] == k
        np.testing.assert_allclose(u.target_position, expected, atol=1e-12)
        np.testing.assert_allclose(obs[2:4], expected - start, atol=1e-12)
        np.testing.assert_allclose(u.data.mocap_pos[0, :2], expected, atol=1e-12)  # rendered target
        _, _, _, _, info = env.step(np.zeros(2, dtype=np.float32))
        assert info["target_index"] == k


def test_reach_random_targets_are_marked_minus_one(make_env):
    """With random_targets the target is anywhere on the circle and target_index is -1."""
    env = make_env("motorsleep/Reach-v0", random_targets=True)
    u = env.unwrapped
    start = u.model.site("start").pos[:2]
    offsets = []
    for seed in range(3):
        _, info = env.reset(seed=seed)
        assert info["target_index"] == -1
        offsets.append(u.target_position - start)
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), u.target_radius)
    assert len({tuple(np.round(o, 9)) for o in offsets}) == 3


def _true_hand(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """Forward kinematics of ``qpos`` in a scratch MjData: the hand position of *that* state."""
    scratch = mujoco.MjData(model)
    scratch.qpos[:] = qpos
    mujoco.mj_kinematics(model, scratch)
    return scratch.site_xpos[model.site("hand").id][:2].copy()


def test_reach_observed_velocity_is_the_jacobian_times_joint_velocity(make_env, actions):
    """obs[4:6] (analytic two-link velocity) equals J(q) qdot from MuJoCo at the observed state."""
    env = make_env("motorsleep/Reach-v0")
    model = env.unwrapped.model
    scratch = mujoco.MjData(model)
    jac = np.zeros((3, model.nv))
    env.reset(seed=0)
    for action in actions(env, 0, 15):
        obs, *_ = env.step(action)
        scratch.qpos[:], scratch.qvel[:] = obs[6:8], obs[8:10]
        mujoco.mj_kinematics(model, scratch)
        mujoco.mj_comPos(model, scratch)
        mujoco.mj_jacSite(model, scratch, jac, None, model.site("hand").id)
        np.testing.assert_allclose(obs[4:6], jac[:2] @ obs[8:10], rtol=1e-9, atol=1e-12)


def test_reach_observed_hand_matches_joint_angles_at_reset(make_env):
    """Right after reset (which runs mj_forward) obs[0:2] is the hand of the observed angles."""
    env = make_env("motorsleep/Reach-v0")
    u = env.unwrapped
    start = u.model.site("start").pos[:2]
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        np.testing.assert_allclose(obs[0:2], _true_hand(u.model, obs[6:8]) - start, atol=1e-12)


def test_reach_observed_hand_matches_joint_angles_after_a_step(make_env, actions):
    """After a step, obs[0:2] should still be the hand of the observed joint angles obs[6:8]."""
    env = make_env("motorsleep/Reach-v0")
    u = env.unwrapped
    start = u.model.site("start").pos[:2]
    env.reset(seed=0)
    for action in actions(env, 0, 5):
        obs, *_ = env.step(action)
        np.testing.assert_allclose(obs[0:2], _true_hand(u.model, obs[6:8]) - start, atol=1e-9)
