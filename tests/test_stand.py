"""Stand-v0 beyond the contract of tests/test_envs.py: its body is Winter's, its platform moves as
prescribed, its contexts do what they say, falls end episodes, and the Hydra app runs it.

Real MuJoCo, short rollouts.
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

from agents.evaluation import evaluate
from agents.reference import REFERENCES, StandPDController
from envs import FAMILY_MAX_STEPS, REGISTERED_IDS, STAND_CONTEXTS, StandContext
from envs.stand import minimum_jerk

ROOT = Path(__file__).resolve().parents[1]
BASE = "motorsleep/Stand-v0"
quiet_box_bounds = pytest.mark.filterwarnings("ignore:.*observation space (minimum|maximum) value")


def test_every_preset_has_its_id_and_five_second_episodes(make_env):
    names = {env_id.removeprefix("motorsleep/"): context for env_id, (family, context) in REGISTERED_IDS.items()
             if family == "stand"}
    assert names == {"Stand-v0": "null", "StandTiltForward-v0": "tilt_forward", "StandTiltBackward-v0": "tilt_backward",
                     "StandTranslateForward-v0": "translate_forward",
                     "StandTranslateBackward-v0": "translate_backward",
                     "StandGravityTiltPlus-v0": "gravity_tilt_plus", "StandGravityTiltMinus-v0": "gravity_tilt_minus",
                     "StandHeavy-v0": "heavy", "StandLight-v0": "light"}
    assert FAMILY_MAX_STEPS["stand"] == 250 and make_env(BASE).unwrapped.dt == pytest.approx(0.02)


def test_body_is_winters_adult():
    """Segment masses, centres of mass and inertias recomputed from Winter's table 4.1 and figure 4.1
    (H = 1.75 m, M = 75 kg); the ankle's passive stiffness 0.15 m g h; motors of 150 N m."""
    model = mujoco.MjModel.from_xml_path(str(ROOT / "envs" / "assets" / "stand.xml"))
    height, mass = 1.75, 75.0
    ankle, knee, hip, shoulder = 0.039 * height, 0.285 * height, 0.530 * height, 0.818 * height
    shank, thigh, hat = knee - ankle, hip - knee, shoulder - hip
    m_shank, m_thigh, m_hat = 2 * 0.0465 * mass, 2 * 0.100 * mass, 0.678 * mass
    c_shank, c_thigh = (1 - 0.433) * shank, shank + (1 - 0.433) * thigh  # above the ankle
    m_legs = m_shank + m_thigh
    c_legs = (m_shank * c_shank + m_thigh * c_thigh) / m_legs
    i_legs = (m_shank * ((0.302 * shank) ** 2 + (c_shank - c_legs) ** 2)
              + m_thigh * ((0.323 * thigh) ** 2 + (c_thigh - c_legs) ** 2))
    legs, trunk = model.body("legs").id, model.body("trunk").id
    np.testing.assert_allclose(model.body_mass[[legs, trunk]], [m_legs, m_hat], rtol=1e-4)
    np.testing.assert_allclose(model.body_ipos[[legs, trunk], 2], [c_legs, 0.626 * hat], rtol=1e-3)
    np.testing.assert_allclose(model.body_inertia[[legs, trunk], 1], [i_legs, m_hat * (0.496 * hat) ** 2], rtol=1e-3)
    np.testing.assert_allclose([model.body_pos[legs, 2], model.body_pos[trunk, 2]], [ankle, hip - ankle], rtol=1e-3)
    h = (m_legs * c_legs + m_hat * (hip - ankle + 0.626 * hat)) / (m_legs + m_hat)
    mgh = (m_legs + m_hat) * 9.81 * h
    assert model.jnt_stiffness[model.joint("ankle").id] == pytest.approx(0.15 * mgh, rel=0.01)
    np.testing.assert_allclose(model.actuator_gear[:, 0], 150.0)
    assert model.site("toe").pos[0] - model.site("heel").pos[0] == pytest.approx(0.152 * height, abs=1e-3)


@pytest.mark.parametrize("context", ["null", "tilt_backward", "translate_forward"])
def test_posture_is_mujocos_centre_of_mass_and_feet(context, make_env, actions):
    """The centre of mass and the feet's ends the task reads are MuJoCo's, through the move."""
    env = make_env(BASE, context=context)
    u = env.unwrapped
    env.reset(seed=0, options={"onset": 0.1})
    for action in actions(env, 0, 30):
        *_, terminated, _, info = env.step(action)
        d = mujoco.MjData(u.model)
        d.qpos[:], d.qvel[:] = u.data.qpos, u.data.qvel
        mujoco.mj_forward(u.model, d)
        ankle_x = d.xpos[u.model.body("legs").id, 0]
        p = u.posture()
        assert p["com_x"] == pytest.approx(d.subtree_com[u.model.body("legs").id, 0] - ankle_x, abs=1e-9)
        assert p["heel_x"] == pytest.approx(d.site_xpos[u.model.site("heel").id, 0] - ankle_x, abs=1e-9)
        assert p["toe_x"] == pytest.approx(d.site_xpos[u.model.site("toe").id, 0] - ankle_x, abs=1e-9)
        assert info["com_x"] == p["com_x"]
        if terminated:
            break


@pytest.mark.parametrize("context", ["translate_forward", "tilt_backward"])
def test_platform_follows_its_minimum_jerk_path_and_the_body_feels_it(context, make_env, rollout, actions):
    """Nothing moves before the onset (the rollout equals null's); the platform is on its profile
    at every step and ends at the context's shift or tilt; after the onset the body moves otherwise."""
    ctx = STAND_CONTEXTS[context]
    final = (ctx.platform_shift, math.radians(ctx.platform_tilt_deg))
    plan = np.zeros((100, 2), dtype=np.float32)
    moved = rollout(make_env(BASE, context=context), 0, plan, options={"onset": 0.4})
    still = rollout(make_env(BASE), 0, plan, options={"onset": 0.4})
    before = int(0.4 / 0.02)
    np.testing.assert_array_equal(np.array(moved.qpos[:before]), np.array(still.qpos[:before]))
    for step, info in enumerate(moved.infos[1:], 1):
        s = minimum_jerk((step * 0.02 - 0.4) / 0.3)[0]
        assert (info["platform_shift"], info["platform_tilt"]) == pytest.approx((final[0] * s, final[1] * s), abs=1e-12)
    assert len(moved) > before + 3
    u = make_env(BASE, context=context).unwrapped
    u.reset(seed=0, options={"onset": 0.4})
    shift, tilt = u.platform_state(0.7 + 1e-9)  # the move is over: the platform stays there
    assert shift == (final[0], 0.0, 0.0) and tilt == (final[1], 0.0, 0.0)
    n = min(len(moved), len(still))
    assert np.abs(np.array(moved.obs[before + 5:n])[:, 2] - np.array(still.obs[before + 5:n])[:, 2]).max() > 1e-3


def test_a_translation_accelerates_the_body_as_the_platform_prescribes(make_env):
    """The platform's acceleration reaches the body: over one physics step mid-move, the joints
    accelerate as the body's equations with the platform's acceleration a prescribed say,
    M_bb qdd = forces - M_b,shift a (the body's reaction hardly moves the platform's armature)."""
    env = make_env(BASE, context={"platform_shift": 0.1}, reset_noise_scale=0.0)
    u = env.unwrapped
    env.reset(seed=0, options={"onset": 0.0})
    t = 0.3 * (0.5 - math.sqrt(3) / 6)  # the largest acceleration of a minimum-jerk move
    u.data.time = t
    ax = u.platform_state(t)[0][2]
    d = mujoco.MjData(u.model)
    mujoco.mj_copyData(d, u.model, u.data)
    u._step_mujoco_simulation(np.zeros(2), 1)
    # expected: body accelerations of the coupled system with the platform's acceleration prescribed
    (x, vx, _), (tilt, vtilt, _) = u.platform_state(t)
    d.qpos[:2], d.qvel[:2] = (x, tilt), (vx, vtilt)
    mujoco.mj_forward(u.model, d)
    full = np.zeros((u.model.nv, u.model.nv))
    mujoco.mj_fullM(u.model, d, full)
    body = slice(2, 4)
    force = d.qfrc_passive[body] + d.qfrc_actuator[body] - d.qfrc_bias[body] - full[body, 0] * ax
    expected = np.linalg.solve(full[body, body], force)
    observed = (u.data.qvel[2:4] - d.qvel[2:4]) / u.model.opt.timestep
    np.testing.assert_allclose(observed, expected, rtol=0.05)
    assert expected[0] < -1.0  # a forward push of the feet tips the legs back


def test_contexts_are_written_into_the_model(make_env):
    null = make_env(BASE).unwrapped.model
    heavy = make_env(BASE, context="heavy").unwrapped.model
    for name in ("legs", "trunk"):
        body = null.body(name).id
        assert heavy.body_mass[body] == pytest.approx(2.0 * null.body_mass[body])
        np.testing.assert_allclose(heavy.body_inertia[body], 2.0 * null.body_inertia[body])
    assert heavy.body_mass[null.body("platform").id] == null.body_mass[null.body("platform").id]
    plus = make_env(BASE, context="gravity_tilt_plus").unwrapped.model
    tilt = math.radians(8.0)
    np.testing.assert_allclose(plus.opt.gravity, [9.81 * math.sin(tilt), 0.0, -9.81 * math.cos(tilt)])


def test_leaving_the_base_of_support_ends_the_episode(make_env):
    """Leaning back until the centre of mass is behind the heel is a fall; as far forward is not."""
    env = make_env(BASE, reset_noise_scale=0.0)
    u = env.unwrapped
    for lean, falls in ((-0.07, True), (0.07, False)):
        env.reset(seed=0)
        u.data.qpos[2] = lean
        _, _, terminated, _, info = env.step(np.zeros(2, dtype=np.float32))
        assert terminated == falls and info["is_success"] == (not falls)
        assert (info["com_x"] < -0.06) == falls


def test_reward_is_posture_minus_effort(make_env):
    env = make_env(BASE, reset_noise_scale=0.0, ctrl_cost_weight=0.2)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0.5, -1.0], dtype=np.float32))
    assert info["reward_ctrl"] == pytest.approx(-0.2 * 1.25)
    u, p = env.unwrapped, env.unwrapped.posture()
    assert info["reward_posture"] == pytest.approx(math.exp(-(p["legs"] ** 2 + p["trunk"] ** 2) / (2 * 0.1 ** 2)))
    assert reward == info["reward_posture"] + info["reward_ctrl"] and u.healthy_reward == 1.0


# -- the contexts' conflict, measured with the tuned PD ----------------------------------------


def _pd_return(context: str, tuned: str, lean: float = 0.0) -> tuple[float, float]:
    import gymnasium

    env = gymnasium.make(BASE, context=context)
    result = evaluate(StandPDController(env, context=tuned, lean=lean), env, 4, 10_000)
    env.close()
    return result.mean_return, result.success_rate


def test_opposite_gravity_tilts_conflict_for_a_tuned_pd():
    """Each tilt's PD stands in it and falls in the other (envs/stand.py, "Contexts")."""
    for own, other in (("gravity_tilt_plus", "gravity_tilt_minus"), ("gravity_tilt_minus", "gravity_tilt_plus")):
        home, away = _pd_return(own, own), _pd_return(other, own)
        assert home[1] == 1.0 and home[0] > 230
        assert away[1] == 0.0 and away[0] < 0.2 * home[0]


def test_a_forward_translation_needs_a_forward_lean():
    assert _pd_return("translate_forward", "translate_forward", lean=0.04)[1] == 1.0
    assert _pd_return("translate_forward", "translate_forward", lean=0.0)[1] == 0.0
    assert _pd_return("translate_backward", "translate_backward", lean=0.0)[1] == 1.0


def test_the_reference_is_the_ceiling(make_env):
    env = make_env(BASE)
    assert REFERENCES["stand"](env) == 250.0
    assert _pd_return("null", "null")[0] <= 250.0


# -- the contract with the cue, pickling, bad arguments ------------------------------------------


@quiet_box_bounds
def test_env_checkers_with_the_cue_and_a_moving_platform(make_env):
    env = make_env("motorsleep/StandTranslateForward-v0", context_cue=True, n_contexts=2, context_id=1,
                   earliest_onset=0.0, latest_onset=0.1)
    gymnasium_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env, warn=True)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs[6:], [0.0, 1.0])


def test_pickle_keeps_every_constructor_argument(make_env, rollout, actions):
    kwargs = {"context": {"platform_tilt_deg": -4.0, "mass_scale": 1.2}, "context_id": 1, "n_contexts": 2,
              "context_cue": True, "healthy_reward": 2.0, "ctrl_cost_weight": 0.3, "posture_scale": 0.2,
              "max_segment_angle": 0.5, "reset_noise_scale": 0.02, "perturbation_duration": 0.4,
              "earliest_onset": 0.1, "latest_onset": 0.3, "frame_skip": 2}
    env = make_env(BASE, **kwargs)
    rollout(env, 3, actions(env, 3, 10))
    clone = pickle.loads(pickle.dumps(env))
    try:
        for name, value in kwargs.items():
            expected = StandContext(**value) if name == "context" else value
            assert getattr(clone.unwrapped, name) == expected, name
        plan = actions(env, 1, 40)
        rollout(clone, 11, plan).assert_identical(rollout(make_env(BASE, **kwargs), 11, plan))
    finally:
        clone.close()


def test_the_onset_is_drawn_from_the_seed_in_every_context(make_env):
    onsets = {c: [make_env(BASE, context=c).reset(seed=s)[1]["perturbation_onset"] for s in range(5)]
              for c in ("null", "translate_backward")}
    assert onsets["null"] == onsets["translate_backward"]
    assert all(0.5 <= t <= 2.0 for t in onsets["null"]) and len(set(onsets["null"])) == 5


@pytest.mark.parametrize(("kwargs", "names"), [
    ({"context": {"platform_tilt_deg": 40.0}}, "platform_tilt_deg"),
    ({"context": {"platform_shift": float("nan")}}, "platform_shift"),
    ({"context": {"mass_scale": 0.0}}, "mass_scale"),
    ({"context": "curl_cw"}, "not a stand context"),
    ({"max_segment_angle": 2.0}, "max_segment_angle"),
    ({"perturbation_duration": 0.0}, "perturbation_duration"),
    ({"earliest_onset": 2.0, "latest_onset": 1.0}, "latest_onset"),
    ({"context_cue": "yes"}, "context_cue"),
])
def test_bad_arguments_are_refused_by_name(kwargs, names, make_env):
    with pytest.raises(ValueError, match=names):
        make_env(BASE, **kwargs)


def test_bad_reset_options_are_refused_by_name(make_env):
    env = make_env(BASE)
    with pytest.raises(ValueError, match="'onset'"):
        env.reset(seed=0, options={"target_index": 1})
    with pytest.raises(ValueError, match="onset"):
        env.reset(seed=0, options={"onset": -1.0})


# -- the config option -------------------------------------------------------------------------


def test_smoke_run_on_the_standing_body(tmp_path):
    """The Hydra app runs the smoke preset on env=stand to its result table."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), "experiment=smoke", "env=stand",
                           f"hydra.run.dir={tmp_path / 'run'}"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| A lost (learned - at the end) |" in done.stdout
    assert (tmp_path / "run" / "results.json").is_file()
