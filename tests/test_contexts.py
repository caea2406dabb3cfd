"""The interfering contexts do what they claim: checked against MuJoCo, not against the env's code.

Reach: the curl field is J^T F with F = b [[0, 1], [-1, 0]] v, clockwise for b > 0; the
visuomotor rotation only rotates what the agent sees. Balance: tilt, mass and friction are
written into the model and change the motion. Plus the context cue, argument validation and
``envs.resolve_context``.

Over 400 lines on purpose: one file per claim of envs/contexts.py, so that every context's
physics check sits beside the others it is compared with.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np
import pytest

import envs
from envs import BALANCE_CONTEXTS, REACH_CONTEXTS, BalanceContext, ReachContext, resolve_context

REACH = "motorsleep/Reach-v0"
BALANCE = "motorsleep/Balance-v0"
CURL_CW = "motorsleep/ReachCurlCW-v0"
CURL_CCW = "motorsleep/ReachCurlCCW-v0"
ROT_PLUS30 = "motorsleep/ReachRotPlus30-v0"
S = np.array([[0.0, 1.0], [-1.0, 0.0]])  # F = b S v


# -- helpers ---------------------------------------------------------------------------------


def hand_jacobian(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    """The 2 x nv planar Jacobian of the hand site at the kinematics currently held in ``data``."""
    jac = np.zeros((3, model.nv))
    mujoco.mj_jacSite(model, data, jac, None, model.site("hand").id)
    return jac[:2]


def jacobian_at(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """The hand Jacobian at ``qpos``, computed in a scratch MjData (leaves the env untouched)."""
    scratch = mujoco.MjData(model)
    scratch.qpos[:] = qpos
    mujoco.mj_kinematics(model, scratch)
    mujoco.mj_comPos(model, scratch)
    return hand_jacobian(model, scratch)


def field_torque(model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray, b: float) -> np.ndarray:
    """Joint torques J^T F of the curl field F = b S J qdot at the state (qpos, qvel)."""
    jac = jacobian_at(model, qpos)
    return jac.T @ (b * S @ (jac @ qvel))


def true_hand(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """The hand position of ``qpos`` (forward kinematics in a scratch MjData).

    Used instead of ``env.hand_position()``, which after a step reads kinematics that
    mj_step computed *before* integrating, i.e. one physics step old (see test_envs.py).
    """
    scratch = mujoco.MjData(model)
    scratch.qpos[:] = qpos
    mujoco.mj_kinematics(model, scratch)
    return scratch.site_xpos[model.site("hand").id][:2].copy()


def hand_path(env, seed: int, plan: np.ndarray) -> np.ndarray:
    """The true hand positions over a seeded rollout of ``plan``."""
    env.reset(seed=seed)
    path = []
    for action in plan:
        env.step(action)
        path.append(true_hand(env.unwrapped.model, env.unwrapped.data.qpos))
    return np.array(path)


def rotation(deg: float) -> np.ndarray:
    t = math.radians(deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


# -- resolve_context -------------------------------------------------------------------------


@pytest.mark.parametrize(("family", "cls", "presets"), [
    ("reach", ReachContext, REACH_CONTEXTS),
    ("balance", BalanceContext, BALANCE_CONTEXTS),
])
def test_resolve_context_accepts_name_dict_instance_and_none(family, cls, presets):
    """Configs give contexts as names or dicts; code passes instances; None means null."""
    for name, preset in presets.items():
        assert resolve_context(family, name) is preset
    assert resolve_context(family, None) == cls() == presets["null"]
    instance = cls()
    assert resolve_context(family, instance) is instance
    first_field = dataclasses.fields(cls)[0].name
    # a partial dict: the missing fields take the null context's values; ints become floats
    from_dict = resolve_context(family, {first_field: 3})
    assert from_dict == dataclasses.replace(cls(), **{first_field: 3.0})
    assert isinstance(getattr(from_dict, first_field), float)
    assert resolve_context(family, {}) == cls()


def test_presets_mean_what_their_names_say():
    """Each preset changes one field, in the named direction; paired presets are mirror images.

    Strengths are tuned (scripts/interference_matrix.py), so only the values the names state
    (rot_plus30, and "heavy" as double the mass) are pinned.
    """
    null_reach, null_balance = ReachContext(), BalanceContext()
    assert REACH_CONTEXTS["null"] == null_reach and BALANCE_CONTEXTS["null"] == null_balance
    cw, ccw = REACH_CONTEXTS["curl_cw"], REACH_CONTEXTS["curl_ccw"]
    assert cw == ReachContext(curl_field=cw.curl_field) and cw.curl_field > 0
    assert ccw == ReachContext(curl_field=-cw.curl_field)
    assert REACH_CONTEXTS["rot_plus30"] == ReachContext(rotation_deg=30.0)
    assert REACH_CONTEXTS["rot_minus30"] == ReachContext(rotation_deg=-30.0)
    left, right = BALANCE_CONTEXTS["tilt_left"], BALANCE_CONTEXTS["tilt_right"]
    assert right == BalanceContext(gravity_tilt_deg=right.gravity_tilt_deg)
    assert right.gravity_tilt_deg > 0
    assert left == BalanceContext(gravity_tilt_deg=-right.gravity_tilt_deg)
    assert BALANCE_CONTEXTS["mass_heavy"] == BalanceContext(mass_scale=2.0)
    light = BALANCE_CONTEXTS["mass_light"]
    assert light == BalanceContext(mass_scale=light.mass_scale) and light.mass_scale < 1
    low, high = BALANCE_CONTEXTS["friction_low"], BALANCE_CONTEXTS["friction_high"]
    assert low == BalanceContext(friction_scale=low.friction_scale) and low.friction_scale < 1
    assert high == BalanceContext(friction_scale=high.friction_scale) and high.friction_scale > 1


@pytest.mark.parametrize(("family", "context", "match"), [
    ("walk", "null", r"family='walk'.*\['balance', 'muscle_reach', 'reach', 'stand'\]"),
    ("reach", 42, r"context=42 is not allowed.*preset name"),
    ("reach", BalanceContext(), r"context=BalanceContext.*ReachContext"),
    ("balance", "curl_cw", r"context='curl_cw' is not a balance context"),
])
def test_resolve_context_rejects_other_values(family, context, match):
    """Wrong family, wrong type, the other family's context: a ValueError naming the allowed."""
    with pytest.raises(ValueError, match=match):
        resolve_context(family, context)


def test_contexts_are_frozen():
    """Presets are shared module-level objects: mutating one would leak into every env."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        REACH_CONTEXTS["curl_cw"].curl_field = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        BALANCE_CONTEXTS["mass_heavy"].mass_scale = 1.0  # type: ignore[misc]


# -- reach: curl force field -----------------------------------------------------------------


def test_opposite_curl_fields_bend_the_path_differently(make_env, actions):
    """Same seed and commands: CW and CCW fields (and the null field) give different hand paths."""
    cw, ccw, null = make_env(CURL_CW), make_env(CURL_CCW), make_env(REACH)
    plan = actions(cw, 0, 30)
    path_cw, path_ccw, path_null = (hand_path(env, 4, plan) for env in (cw, ccw, null))
    assert np.abs(path_cw - path_ccw).max() > 0.01  # metres
    assert np.abs(path_cw - path_null).max() > 0.005
    assert np.abs(path_ccw - path_null).max() > 0.005


def test_zero_curl_field_is_exactly_the_null_context(make_env, rollout, actions):
    """context={'curl_field': 0.0} must be bit-identical to 'null' (no spurious torques)."""
    zero, null = make_env(REACH, context={"curl_field": 0.0}), make_env(REACH, context="null")
    plan = actions(zero, 0, 50)
    rollout(zero, 2, plan).assert_identical(rollout(null, 2, plan))
    np.testing.assert_array_equal(zero.unwrapped.data.qfrc_applied, 0.0)


def test_applied_torque_is_jacobian_transpose_of_curl_force(make_env):
    """qfrc_applied after one physics step is J^T F computed at the state *before* that step.

    The env computes the torques from (qpos, qvel) and then calls mj_step, so the check
    must use that pre-step state: set_state() runs mj_forward, which makes the kinematics
    (hence mj_jacSite and curl_force()) consistent with it; after mj_step they are not.
    frame_skip=1 makes a gymnasium step exactly one physics step.
    """
    env = make_env(CURL_CW, frame_skip=1)
    u = env.unwrapped
    b = u.context.curl_field
    assert b == 20.0
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    q0 = u.data.qpos.copy()
    for _ in range(10):
        qpos = q0 + rng.uniform(-0.4, 0.4, size=2)
        qvel = rng.uniform(-3.0, 3.0, size=2)
        u.set_state(qpos, qvel)
        jac = hand_jacobian(u.model, u.data)
        force = b * S @ (jac @ qvel)
        np.testing.assert_allclose(u.curl_force(), force, rtol=1e-12, atol=1e-12)
        env.step(rng.uniform(-1, 1, size=2).astype(np.float32))
        np.testing.assert_allclose(u.data.qfrc_applied, jac.T @ force, rtol=1e-9, atol=1e-12)
        assert np.abs(u.data.qfrc_applied).max() > 0.1  # a real test, not 0 == 0


def test_every_physics_substep_applies_the_curl_field(make_env, actions):
    """Replay whole steps (frame_skip=4) with an independent J^T F field: same physics.

    Each env step is replayed from the env's own state in a second MjData whose field
    torques come from mj_jacSite at the state before each mj_step.
    """
    env = make_env(CURL_CW)
    u = env.unwrapped
    model, b = u.model, u.context.curl_field
    assert u.frame_skip == 4
    mine = mujoco.MjData(model)
    env.reset(seed=1)
    for action in actions(env, 1, 30):
        mujoco.mj_copyData(mine, model, u.data)
        for _ in range(u.frame_skip):
            mine.qfrc_applied[:] = field_torque(model, mine.qpos, mine.qvel, b)
            mine.ctrl[:] = action
            mujoco.mj_step(model, mine)
        env.step(action)
        np.testing.assert_allclose(u.data.qpos, mine.qpos, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(u.data.qvel, mine.qvel, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(u.data.qfrc_applied, mine.qfrc_applied, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_clockwise_field_pushes_a_rightward_hand_to_minus_y(make_env, speed):
    """b > 0 and hand velocity +x: F = b (v_y, -v_x) points to -y, and the path bends that way."""
    final_y = {}
    for env_id in (CURL_CW, REACH):
        env = make_env(env_id, frame_skip=1, reset_noise_scale=0.0)
        u = env.unwrapped
        b = u.context.curl_field
        env.reset(seed=0)
        qpos = u.data.qpos.copy()
        jac = jacobian_at(u.model, qpos)
        qvel = np.linalg.solve(jac, [speed, 0.0])  # joint velocity of a hand moving in +x
        u.set_state(qpos, qvel)
        np.testing.assert_allclose(u.curl_force(), [0.0, -b * speed], atol=1e-9)
        env.step(np.zeros(2, dtype=np.float32))
        # the torques the env actually applied, mapped back to a force at the hand
        applied = np.linalg.solve(jac.T, u.data.qfrc_applied)
        np.testing.assert_allclose(applied, [0.0, -b * speed], atol=1e-9)
        for _ in range(20):
            env.step(np.zeros(2, dtype=np.float32))
        final_y[env_id] = true_hand(u.model, u.data.qpos)[1]
    assert REACH_CONTEXTS["curl_cw"].curl_field > 0
    assert final_y[CURL_CW] < final_y[REACH] - 1e-4  # deflected to -y, clockwise of +x


# -- reach: visuomotor rotation --------------------------------------------------------------


def test_rotation_changes_what_is_seen_but_not_the_physics(make_env, rollout, actions):
    """rot_plus30 vs null, same seed and commands: the same motion, observed rotated by +30 deg.

    obs[0:6] (hand, target, hand velocity) are relative to the start, so the rotation about the
    start is a plain rotation of those vectors; joint angles and velocities are not rotated.
    """
    rotated, null = make_env(ROT_PLUS30), make_env(REACH)
    assert rotated.unwrapped.context.rotation_deg == 30.0
    plan = actions(null, 0, 40)
    a, b = rollout(rotated, 6, plan), rollout(null, 6, plan)
    # identical physics, reward and info
    np.testing.assert_array_equal(np.array(a.qpos), np.array(b.qpos))
    np.testing.assert_array_equal(np.array(a.qvel), np.array(b.qvel))
    assert a.rewards == b.rewards
    assert [i["distance"] for i in a.infos] == [i["distance"] for i in b.infos]
    np.testing.assert_array_equal(hand_path(rotated, 6, plan), hand_path(null, 6, plan))
    np.testing.assert_array_equal(rotated.unwrapped.target_position, null.unwrapped.target_position)
    # rotated observations
    obs_rot, obs_null = np.array(a.obs), np.array(b.obs)
    r30 = rotation(30.0)
    for cols in (slice(0, 2), slice(2, 4), slice(4, 6)):
        np.testing.assert_allclose(obs_rot[:, cols], obs_null[:, cols] @ r30.T, atol=1e-12)
    np.testing.assert_array_equal(obs_rot[:, 6:], obs_null[:, 6:])
    assert np.abs(obs_rot[:, 0:4] - obs_null[:, 0:4]).max() > 0.02  # and it is visible


def test_rotation_is_counter_clockwise_positive(make_env):
    """A target straight to the right of the start is seen rotated towards +y for +30 deg."""
    env = make_env(ROT_PLUS30)
    obs, _ = env.reset(seed=0, options={"target_index": 0})  # angle 0: +x of the start
    r = env.unwrapped.target_radius
    np.testing.assert_allclose(obs[2:4], [r * math.cos(math.pi / 6), r * math.sin(math.pi / 6)],
                               atol=1e-12)


# -- balance contexts ------------------------------------------------------------------------


def balance_model(make_env, context):
    return make_env(BALANCE, context=context).unwrapped.model


def test_gravity_tilt_sets_the_sign_of_gravity_x(make_env):
    """tilt_left pulls to -x, tilt_right to +x, with the same magnitude; |g| is unchanged."""
    g = {name: balance_model(make_env, name).opt.gravity.copy()
         for name in ("null", "tilt_left", "tilt_right")}
    assert g["null"][0] == 0.0
    assert g["tilt_left"][0] < 0.0 < g["tilt_right"][0]
    assert g["tilt_left"][0] == pytest.approx(-g["tilt_right"][0])
    tilt = math.radians(BALANCE_CONTEXTS["tilt_right"].gravity_tilt_deg)
    assert g["tilt_right"][0] == pytest.approx(9.81 * math.sin(tilt))
    for vec in g.values():
        assert np.linalg.norm(vec) == pytest.approx(9.81)
        assert vec[1] == 0.0 and vec[2] < 0.0


@pytest.mark.parametrize(("context", "sign"), [("tilt_left", -1.0), ("tilt_right", 1.0)])
def test_tilted_gravity_moves_the_body_its_way(make_env, context, sign):
    """With no noise and no command the null system rests; a tilt drifts cart and pole its way."""
    null = make_env(BALANCE, reset_noise_scale=0.0)
    tilted = make_env(BALANCE, context=context, reset_noise_scale=0.0)
    zero = np.zeros(1, dtype=np.float32)
    for env in (null, tilted):
        env.reset(seed=0)
        for _ in range(20):
            obs, *_ = env.step(zero)
    np.testing.assert_array_equal(null.unwrapped.data.qpos, 0.0)
    cart, pole = tilted.unwrapped.data.qpos
    assert sign * cart > 0.01
    assert sign * pole > 0.0


def test_mass_scale_scales_pole_mass_and_inertia(make_env):
    """mass_heavy doubles the pole's mass and inertia, mass_light shrinks them; not the cart's."""
    null = balance_model(make_env, "null")
    pole, cart = null.body("pole").id, null.body("cart").id
    light = BALANCE_CONTEXTS["mass_light"].mass_scale
    for context, factor in (("mass_heavy", 2.0), ("mass_light", light), ({"mass_scale": 3.0}, 3.0)):
        model = balance_model(make_env, context)
        assert model.body_mass[pole] == pytest.approx(factor * null.body_mass[pole])
        np.testing.assert_allclose(model.body_inertia[pole], factor * null.body_inertia[pole])
        assert model.body_mass[cart] == null.body_mass[cart]
    # each env owns its model: a heavy env made earlier must not leak into a later null one
    assert balance_model(make_env, "null").body_mass[pole] == null.body_mass[pole]


def test_friction_scale_scales_rail_friction_and_damping(make_env):
    """friction_scale multiplies the slider's frictionloss and damping (0 removes them)."""
    null = balance_model(make_env, "null")
    slider = null.joint("slider").dofadr[0]
    assert null.dof_frictionloss[slider] > 0.0 and null.dof_damping[slider] > 0.0
    hinge = null.joint("hinge").dofadr[0]
    cases = [(name, BALANCE_CONTEXTS[name].friction_scale)
             for name in ("friction_high", "friction_low")]
    cases.append(({"friction_scale": 3.0}, 3.0))
    for context, factor in cases:
        model = balance_model(make_env, context)
        friction, damping = model.dof_frictionloss, model.dof_damping
        assert friction[slider] == pytest.approx(factor * null.dof_frictionloss[slider])
        assert damping[slider] == pytest.approx(factor * null.dof_damping[slider])
        assert damping[hinge] == null.dof_damping[hinge]  # only the rail changes


@pytest.mark.parametrize("context", [name for name in BALANCE_CONTEXTS if name != "null"])
def test_balance_contexts_change_the_trajectory(context, make_env, rollout, actions):
    """Same seed and actions: every non-null balance context moves the system differently."""
    env, null = make_env(BALANCE, context=context), make_env(BALANCE)
    plan = 0.3 * actions(null, 0, 30)
    a, b = rollout(env, 0, plan), rollout(null, 0, plan)
    n = min(len(a.obs), len(b.obs))
    assert n > 5
    assert np.abs(np.array(a.obs[:n]) - np.array(b.obs[:n])).max() > 1e-3


# -- context cue -----------------------------------------------------------------------------


@pytest.mark.parametrize(("env_id", "base_dim"), [(REACH, 10), (BALANCE, 4)])
@pytest.mark.parametrize("context_id", [0, 1, 2])
def test_context_cue_is_a_one_hot_appended_only_when_on(make_env, env_id, base_dim, context_id):
    """With the cue on, obs ends with one_hot(context_id) of size n_contexts; off, no extra dims."""
    on = make_env(env_id, context_cue=True, n_contexts=3, context_id=context_id)
    off = make_env(env_id, context_cue=False, n_contexts=3, context_id=context_id)
    expected = np.eye(3)[context_id]
    assert on.observation_space.shape == (base_dim + 3,)
    assert off.observation_space.shape == (base_dim,)
    obs_on, info = on.reset(seed=0)
    obs_off, _ = off.reset(seed=0)
    assert info["context_id"] == context_id
    assert obs_on.shape == (base_dim + 3,) and obs_off.shape == (base_dim,)
    np.testing.assert_array_equal(obs_on[-3:], expected)
    np.testing.assert_array_equal(obs_on[:base_dim], obs_off)  # the cue adds, it changes nothing
    step = on.action_space.sample() * 0
    obs_on, *_, info = on.step(step)
    np.testing.assert_array_equal(obs_on[-3:], expected)
    assert info["context_id"] == context_id


# -- argument validation ---------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")


def field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


# (env id, make kwargs, regex that must name the argument, text of the allowed values)
BAD_ARGUMENTS = [
    (REACH, {"context": "curl_sideways"}, r"context='curl_sideways'", str(sorted(REACH_CONTEXTS))),
    (REACH, {"context": {"curl": 1.0}}, r"context has unknown reach field\(s\) \['curl'\]",
     str(field_names(ReachContext))),
    (REACH, {"context": {"curl_field": NAN}}, r"curl_field=nan", "a finite float"),
    (REACH, {"context": {"curl_field": INF}}, r"curl_field=inf", "a finite float"),
    (REACH, {"context": {"curl_field": -INF}}, r"curl_field=-inf", "a finite float"),
    (REACH, {"context": {"rotation_deg": 400}}, r"rotation_deg=400", "[-180, 180]"),
    (REACH, {"context_id": 1}, r"context_id=1", "[0, 0]"),
    (REACH, {"context_id": 3, "n_contexts": 3}, r"context_id=3", "[0, 2]"),
    (REACH, {"context_id": -1, "n_contexts": 2}, r"context_id=-1", "[0, 1]"),
    (REACH, {"n_contexts": 0}, r"n_contexts=0", ">= 1"),
    (REACH, {"context_cue": "yes"}, r"context_cue='yes'", "True or False"),  # bool("no") would be True too
    (REACH, {"random_targets": "no"}, r"random_targets='no'", "True or False"),
    (BALANCE, {"context": "curl_cw"}, r"context='curl_cw'", str(sorted(BALANCE_CONTEXTS))),
    (BALANCE, {"context": {"gravity": 1.0}}, r"context has unknown balance field\(s\) \['gravity",
     str(field_names(BalanceContext))),
    (BALANCE, {"context": {"mass_scale": 0}}, r"mass_scale=0", "> 0"),
    (BALANCE, {"context": {"mass_scale": -1}}, r"mass_scale=-1", "> 0"),
    (BALANCE, {"context": {"friction_scale": -1}}, r"friction_scale=-1", ">= 0"),
    (BALANCE, {"context": {"gravity_tilt_deg": 90}}, r"gravity_tilt_deg=90", "(-45, 45)"),
    (BALANCE, {"context": {"gravity_tilt_deg": NAN}}, r"gravity_tilt_deg=nan", "(-45, 45)"),
    (BALANCE, {"context_id": 2, "n_contexts": 2}, r"context_id=2", "[0, 1]"),
    (BALANCE, {"n_contexts": 0}, r"n_contexts=0", ">= 1"),
    (BALANCE, {"context_cue": 1}, r"context_cue=1", "True or False"),
]


@pytest.mark.parametrize(("env_id", "kwargs", "names_argument", "allowed"), BAD_ARGUMENTS,
                         ids=[f"{e.split('/')[1]}-{k}" for e, k, *_ in BAD_ARGUMENTS])
def test_bad_arguments_raise_value_error_naming_argument_and_allowed_values(
        make_env, env_id, kwargs, names_argument, allowed):
    """A typo in a config must fail at construction with a message that says how to fix it."""
    with pytest.raises(ValueError, match=names_argument) as excinfo:
        make_env(env_id, **kwargs)
    assert allowed in str(excinfo.value)


def test_a_task_family_refuses_a_cue_that_is_not_a_bool():
    from envs.family import TaskFamily

    with pytest.raises(ValueError, match=r"env\.context_cue='yes' is not allowed: expected True or False"):
        TaskFamily("reach", {"A": "curl_cw"}, context_cue="yes")
    assert TaskFamily("reach", {"A": "curl_cw"}, context_cue=np.bool_(True)).context_cue is True


@pytest.mark.parametrize(("options", "names_argument", "allowed"), [
    ({"target_index": 8}, r"target_index=8", "0..7"),
    ({"target_index": -1}, r"target_index=-1", "0..7"),
    ({"targetindex": 0}, r"reset options \['targetindex'\]", "'target_index'"),
])
def test_bad_reach_reset_options_raise_value_error(make_env, options, names_argument, allowed):
    """Evaluation passes target_index through reset options; a wrong one must not pass silently."""
    env = make_env(REACH)
    with pytest.raises(ValueError, match=names_argument) as excinfo:
        env.reset(seed=0, options=options)
    assert allowed in str(excinfo.value)
    env.reset(seed=0, options={"target_index": 7})  # the env is still usable


def test_registered_preset_ids_accept_context_overrides(make_env):
    """Keywords given to gymnasium.make override the preset's context (configs rely on it)."""
    env = make_env(CURL_CW, context={"curl_field": 5.0})
    assert env.unwrapped.context == ReachContext(curl_field=5.0)
    assert envs.env_id_for("reach", "curl_cw") == CURL_CW
    with pytest.raises(ValueError, match=r"family='reach', context='curl_up'"):
        envs.env_id_for("reach", "curl_up")


def test_an_uncued_context_shows_zeros_where_the_others_show_their_cue():
    """A washout block must not carry a cue of its own (issue 14): env.uncued."""
    from envs.family import TaskFamily

    family = TaskFamily("reach", {"A": "rot_plus30", "B": "rot_minus30", "N": "null"}, context_cue=True, uncued=["N"])
    cues = {}
    for label in family.labels:
        env = family.make_env(label)
        obs, _ = env.reset(seed=0)
        cues[label] = obs[family.cue_dims(len(obs))].tolist()
        env.close()
    assert cues == {"A": [1.0, 0.0, 0.0], "B": [0.0, 1.0, 0.0], "N": [0.0, 0.0, 0.0]}
    with pytest.raises(ValueError, match=r"env.uncued=\['W'\] is not allowed: \['W'\] not in env.contexts"):
        TaskFamily("reach", {"A": "curl_cw"}, uncued=["W"])
