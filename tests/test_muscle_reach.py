"""The six-muscle reach (envs/muscle_reach.py) with its neuroscience options on: delays, noise, catch
and force-channel probe trials, checked against MuJoCo and against MotorNet's published numbers.

tests/test_envs.py runs the gymnasium contract on every registered id at its defaults; here the
same contract holds with every option on, and each option does what it claims. Real MuJoCo, short
rollouts.
"""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs import FAMILY_MAX_STEPS, REGISTERED_IDS

ROOT = Path(__file__).resolve().parents[1]
BASE = "motorsleep/MuscleReach-v0"
MUSCLE_IDS = [i for i, (family, _) in REGISTERED_IDS.items() if family == "muscle_reach"]
#: every option on: what the contract tests of test_envs.py do not reach
EVERYTHING = {"proprioceptive_delay": 2, "visual_delay": 5, "motor_noise": 0.1, "sensory_noise": 0.01,
              "catch_trial_prob": 0.3, "probe_trial_prob": 0.3}
# unbounded observation boxes are intentional, and excitations live in [0, 1] (not SB3's favoured [-1, 1])
quiet_box_bounds = pytest.mark.filterwarnings("ignore:.*observation space (minimum|maximum) value")
quiet_unit_box = pytest.mark.filterwarnings("ignore:We recommend you to use a symmetric and normalized Box")


def test_the_presets_are_the_reach_contexts_on_the_muscle_arm():
    names = {env_id.removeprefix("motorsleep/"): context for env_id, (_, context) in REGISTERED_IDS.items()
             if env_id in MUSCLE_IDS}
    assert names == {"MuscleReach-v0": "null", "MuscleReachCurlCW-v0": "curl_cw", "MuscleReachCurlCCW-v0": "curl_ccw",
                     "MuscleReachRotPlus30-v0": "rot_plus30", "MuscleReachRotMinus30-v0": "rot_minus30"}
    assert FAMILY_MAX_STEPS["muscle_reach"] == 100


def test_arm_and_muscles_are_motornets_arm26(make_env):
    """Segments, peak forces, and each fixed tendon's coefficients and lengthrange recomputed from
    MotorNet's RigidTendonArm26 (motornet/effector.py): its length polynomial linearised at the start
    posture, its optimal fibre and tendon lengths (see envs/assets/muscle_reach.xml)."""
    u = make_env(BASE).unwrapped
    m = u.model
    assert u.link_lengths == pytest.approx((0.309, 0.333))
    np.testing.assert_allclose(m.body_mass[[m.body("upper_arm").id, m.body("forearm").id]], [1.82, 1.43])
    np.testing.assert_allclose(m.body_inertia[[m.body("upper_arm").id, m.body("forearm").id], 2], [0.051, 0.057])
    np.testing.assert_allclose(m.body_ipos[[m.body("upper_arm").id, m.body("forearm").id], 0], [0.135, 0.165])
    np.testing.assert_allclose(m.jnt_range, np.radians([[0, 135], [0, 155]]))
    np.testing.assert_allclose(u.peak_forces, [838, 1207, 1422, 1549, 414, 603])
    np.testing.assert_allclose(m.actuator_dynprm[:, :2], [[0.015, 0.05]] * 6)   # activation, deactivation (s)
    np.testing.assert_allclose(m.actuator_gainprm[:, 6], 10.0)                   # vmax, L0/s

    a0 = np.array([0.151, 0.2322, 0.2859, 0.2355, 0.3329, 0.2989])
    a1 = np.array([[-.03, .03, 0, 0, -.03, .03], [0, 0, -.014, .025, -.016, .03]])
    a2 = np.array([[0, 0, 0, 0, 0, 0], [0, 0, -4e-3, -2.2e-3, -5.7e-3, -3.2e-3]])
    tendon = np.array([0.039, 0.066, 0.172, 0.187, 0.204, 0.217])
    optimal = np.array([0.134, 0.140, 0.092, 0.093, 0.137, 0.127])
    q = u._start_qpos
    shifted = (q - np.array([math.pi / 2, 0.0]))[:, None]
    length = a0 + ((a1 + a2 * shifted) * shifted).sum(axis=0)
    moment = a1 + 2 * a2 * shifted                                 # dL/dq at the start posture, (joint, muscle)
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    dense = np.zeros((m.nu, m.nv))
    mujoco.mju_sparse2dense(dense, d.actuator_moment, d.moment_rownnz, d.moment_rowadr, d.moment_colind)
    np.testing.assert_allclose(dense.T, moment, atol=1e-7)
    tendon_mj = tendon - (length - (moment * q[:, None]).sum(axis=0))
    np.testing.assert_allclose(m.actuator_lengthrange, np.stack([tendon_mj + 0.75 * optimal,
                                                                 tendon_mj + 1.05 * optimal], axis=1), atol=1e-7)
    # so that MuJoCo's normalised fibre length at the start is MotorNet's
    d.qpos[:] = q
    mujoco.mj_forward(m, d)
    lr = m.actuator_lengthrange
    normalised = 0.75 + (d.actuator_length - lr[:, 0]) / ((lr[:, 1] - lr[:, 0]) / 0.30)
    np.testing.assert_allclose(normalised, (length - tendon) / optimal, atol=1e-5)


def test_each_muscle_turns_its_joints_the_way_its_name_says(make_env):
    """Full excitation of one muscle: a flexor's torque raises its joints' angles, an extensor's
    lowers them (torques, not motion: the biceps' elbow torque swings the shoulder back through
    the arm's inertial coupling)."""
    signs = {0: (1, 0), 1: (-1, 0), 2: (0, 1), 3: (0, -1), 4: (1, 1), 5: (-1, -1)}
    env = make_env(BASE)
    for muscle, expected in signs.items():
        env.reset(seed=0)
        action = np.zeros(6, dtype=np.float32)
        action[muscle] = 1.0
        for _ in range(3):
            env.step(action)
        torque = env.unwrapped.data.qfrc_actuator
        np.testing.assert_array_equal(np.sign(torque), expected, err_msg=str(muscle))


# -- the contract with every option on ---------------------------------------------------------


@quiet_box_bounds
@quiet_unit_box
@pytest.mark.parametrize("env_id", ["motorsleep/MuscleReachCurlCW-v0", "motorsleep/MuscleReachRotPlus30-v0"])
def test_env_checkers_with_every_option_on(env_id, make_env):
    env = make_env(env_id, **EVERYTHING, context_cue=True, n_contexts=2)
    gymnasium_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env, warn=True)


def test_same_seed_same_rollout_and_other_seeds_differ_with_noise_and_trials(make_env, rollout, actions):
    """All randomness (targets, start, trial type, motor and sensory noise) comes from the seed."""
    first, second = make_env(BASE, **EVERYTHING), make_env(BASE, **EVERYTHING)
    plan = actions(first, 0, 60)
    a = rollout(first, 4, plan)
    a.assert_identical(rollout(second, 4, plan))
    rollout(first, 4, plan).assert_identical(a)  # re-seeding the same instance
    other = rollout(first, 5, plan)
    assert not np.allclose(np.array(a.obs), np.array(other.obs))


def test_pickled_env_with_every_option_steps_like_a_fresh_one(make_env, rollout, actions):
    env = make_env("motorsleep/MuscleReachCurlCCW-v0", **EVERYTHING)
    rollout(env, 3, actions(env, 3, 7))  # mid-episode, FIFOs full
    clone = pickle.loads(pickle.dumps(env))
    try:
        for name, value in EVERYTHING.items():
            assert getattr(clone.unwrapped, name) == value, name
        plan = actions(env, 1, 40)
        reference = rollout(make_env("motorsleep/MuscleReachCurlCCW-v0", **EVERYTHING), 11, plan)
        rollout(clone, 11, plan).assert_identical(reference)
        rollout(env, 11, plan).assert_identical(reference)
    finally:
        clone.close()
    clone.close()  # a second close does not raise either


def test_episode_is_one_second_of_ten_ms_steps(make_env, rollout):
    env = make_env(BASE, **EVERYTHING)
    assert env.unwrapped.dt == pytest.approx(0.01)
    episode = rollout(env, 0, np.zeros((105, 6), dtype=np.float32))
    assert len(episode) == 100 and episode.truncated[-1] and not any(episode.terminated)


def test_actions_outside_the_unit_box_act_and_cost_as_clipped(make_env, rollout):
    env = make_env(BASE, motor_noise=0.2, ctrl_cost_weight=0.1)
    big = np.tile(np.array([5.0, -5.0, 0.5, 2.0, -1.0, 0.25]), (10, 1))
    rollout(env.unwrapped, 0, big).assert_identical(rollout(env.unwrapped, 0, np.clip(big, 0.0, 1.0)))


# -- delays and noise --------------------------------------------------------------------------


@pytest.mark.parametrize(("proprioceptive", "visual"), [(3, 0), (0, 4), (2, 6)])
def test_an_observation_appears_exactly_its_delay_later(proprioceptive, visual, make_env, rollout, actions):
    """With delays d_p and d_v the proprioceptive slots at step t are the undelayed env's at t - d_p,
    the visual slots its at t - d_v (the reset's before that), the target and the physics unchanged."""
    plain = make_env(BASE)
    delayed = make_env(BASE, proprioceptive_delay=proprioceptive, visual_delay=visual)
    plan = actions(plain, 2, 30)
    now, late = rollout(plain, 7, plan), rollout(delayed, 7, plan)
    np.testing.assert_array_equal(np.array(now.qpos), np.array(late.qpos))
    obs_now, obs_late = np.array(now.obs), np.array(late.obs)
    seen, target, felt = [0, 1, 4, 5], [2, 3], list(range(6, 16))
    for t in range(len(obs_now)):
        np.testing.assert_array_equal(obs_late[t, felt], obs_now[max(t - proprioceptive, 0), felt])
        np.testing.assert_array_equal(obs_late[t, seen], obs_now[max(t - visual, 0), seen])
        np.testing.assert_array_equal(obs_late[t, target], obs_now[t, target])
    if proprioceptive:  # and the slots do change: the delay is not a frozen copy
        assert not np.array_equal(obs_late[proprioceptive + 1, felt], obs_late[proprioceptive, felt])


def test_sensory_noise_touches_the_observation_only(make_env, rollout, actions):
    plan = actions(make_env(BASE), 0, 20)
    clean = rollout(make_env(BASE), 3, plan)
    noisy = rollout(make_env(BASE, sensory_noise=0.05), 3, plan)
    np.testing.assert_array_equal(np.array(clean.qpos), np.array(noisy.qpos))
    assert clean.rewards == noisy.rewards
    error = np.array(noisy.obs) - np.array(clean.obs)
    assert np.all(error[:, 2:4] == 0.0)  # the target is not a measurement
    assert 0.03 < error[:, [0, 1, *range(4, 16)]].std() < 0.07


def test_motor_noise_changes_the_motion_but_not_the_cost(make_env, rollout, actions):
    plan = actions(make_env(BASE), 0, 20)
    clean = rollout(make_env(BASE), 3, plan)
    noisy = rollout(make_env(BASE, motor_noise=0.3), 3, plan)
    assert not np.allclose(np.array(clean.qpos), np.array(noisy.qpos))
    assert [i["reward_ctrl"] for i in clean.infos[1:]] == [i["reward_ctrl"] for i in noisy.infos[1:]]


# -- catch and probe trials ----------------------------------------------------------------


def test_a_catch_trial_has_no_field_force(make_env, rollout, actions):
    """Under the clockwise field a catch trial moves exactly as the null field does; a field trial not."""
    plan = actions(make_env(BASE), 1, 40)
    null = rollout(make_env(BASE), 5, plan)
    field_env = make_env("motorsleep/MuscleReachCurlCW-v0")
    catch = rollout(field_env, 5, plan, options={"trial": "catch"})
    assert all(info["catch_trial"] and not info["probe_trial"] for info in catch.infos)
    np.testing.assert_array_equal(np.array(catch.qpos), np.array(null.qpos))
    np.testing.assert_array_equal(field_env.unwrapped.data.qfrc_applied, 0.0)
    assert field_env.unwrapped.last_hand_force == (0.0, 0.0)
    field = rollout(field_env, 5, plan, options={"trial": "field"})
    assert not any(info["catch_trial"] for info in field.infos)
    assert np.abs(np.array(field.qpos) - np.array(null.qpos)).max() > 1e-3
    fx, fy = field_env.unwrapped.last_hand_force
    assert math.hypot(fx, fy) > 0.1 and all(info["channel_force"] == 0.0 for info in field.infos[1:])


def _lateral(env) -> float:
    u = env.unwrapped
    (sx, sy), (nx, ny) = u._start_xy, u._normal
    hx, hy = u.hand_position().tolist()
    return (hx - sx) * nx + (hy - sy) * ny


def test_the_force_channel_holds_the_hand_on_the_straight_path(make_env):
    """Strong excitation noise (std 0.5, forces of about 100 N at the hand) pushes the hand some
    25 cm off the start-target line; the channel (6000 N/m) holds it within 2 cm, a tenth of that
    at most, and reports the force it pushes back with (against the deviation)."""
    deviations, forces = {}, []
    for trial in ("probe", "field"):
        env = make_env("motorsleep/MuscleReachCurlCW-v0", motor_noise=0.5)
        worst = 0.0
        for seed in range(3):
            _, info = env.reset(seed=seed, options={"trial": trial})
            assert info["probe_trial"] == (trial == "probe")
            for _ in range(60):
                _, _, _, _, info = env.step(np.full(6, 0.2, dtype=np.float32))
                worst = max(worst, abs(_lateral(env)))
                if trial == "probe":
                    forces.append((info["channel_force"], _lateral(env)))
        deviations[trial] = worst
    assert deviations["probe"] < min(0.02, deviations["field"] / 10)
    forces = np.array(forces)
    assert np.abs(forces[:, 0]).max() > 5.0  # the channel worked hard (N)
    far = np.abs(forces[:, 1]) > 0.002
    assert np.mean(np.sign(forces[far, 0]) == -np.sign(forces[far, 1])) > 0.9  # it pushes back


def test_trial_types_follow_their_probabilities_and_do_not_move_the_targets(make_env):
    env = make_env(BASE, catch_trial_prob=0.25, probe_trial_prob=0.5)
    plain = make_env(BASE)
    kinds = []
    for seed in range(400):
        _, info = env.reset(seed=seed)
        _, plain_info = plain.reset(seed=seed)
        assert info["target_index"] == plain_info["target_index"]
        kinds.append("probe" if info["probe_trial"] else "catch" if info["catch_trial"] else "field")
    share = {kind: kinds.count(kind) / len(kinds) for kind in ("probe", "catch", "field")}
    assert share == pytest.approx({"probe": 0.5, "catch": 0.25, "field": 0.25}, abs=0.07)


@pytest.mark.parametrize(("kwargs", "names"), [
    ({"proprioceptive_delay": -1}, "proprioceptive_delay"),
    ({"visual_delay": 1.5}, "visual_delay"),
    ({"visual_delay": True}, "visual_delay"),
    ({"motor_noise": -0.1}, "motor_noise"),
    ({"catch_trial_prob": 1.2}, "catch_trial_prob"),
    ({"catch_trial_prob": 0.6, "probe_trial_prob": 0.6}, "at most 1"),
    ({"channel_damping": float("nan")}, "channel_damping"),
])
def test_bad_arguments_are_refused_by_name(kwargs, names, make_env):
    with pytest.raises(ValueError, match=names):
        make_env(BASE, **kwargs)


def test_bad_reset_options_are_refused_by_name(make_env):
    env = make_env(BASE)
    with pytest.raises(ValueError, match="trial='slow'"):
        env.reset(seed=0, options={"trial": "slow"})
    with pytest.raises(ValueError, match="'target_index' and 'trial'"):
        env.reset(seed=0, options={"speed": 1})


# -- the config option -------------------------------------------------------------------------


def test_smoke_run_on_the_muscle_arm(tmp_path):
    """The Hydra app runs the smoke preset on env=muscle_reach to its result table."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", "env=muscle_reach",
                           "env.env_kwargs.visual_delay=2", "env.env_kwargs.catch_trial_prob=0.2",
                           f"hydra.run.dir={tmp_path / 'run'}"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| A lost (learned - at the end) |" in done.stdout
    assert (tmp_path / "run" / "results.json").is_file()


def test_experiments_act_on_the_muscle_arm_in_the_unit_box_mapped_onto_the_excitations():
    """The policies' bounded means span [-1, 1]: the family's envs (single and vectorised) rescale
    that box onto the excitations' [0, 1], and leave the other families' boxes unwrapped."""
    from envs.family import TaskFamily
    from envs.vector import make_vec

    family = TaskFamily(family="muscle_reach", contexts={"A": "curl_cw", "B": "curl_ccw"})
    for env in (family.make_env("A"), make_vec(family, ["A"], 2, 0), make_vec(family, ["A", "B"], 2, 0)):
        assert (env.action_space.low == -1).all() and (env.action_space.high == 1).all()
        env.close()
    env = family.make_env("A")
    env.reset(seed=0)
    env.step(np.array([-1.0, 1.0, 0.0, -0.5, 0.5, 1.0], np.float32))
    np.testing.assert_allclose(env.unwrapped.data.ctrl, [0.0, 1.0, 0.5, 0.25, 0.75, 1.0], atol=1e-7)
    env.close()
    reach = TaskFamily(family="reach", contexts={"A": "curl_cw"}).make_env("A")
    assert type(reach).__name__ == "TimeLimit"  # [-1, 1] already: not wrapped, Reach's numbers unchanged
    reach.close()
