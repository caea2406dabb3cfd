"""Centre-out reaching with a planar two-joint arm, under curl force fields and visuomotor rotations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium
import mujoco
import numpy as np
from gymnasium import spaces, utils
from gymnasium.envs.mujoco import MujocoEnv

from envs.checks import check_cue, check_flag, check_non_negative, check_positive
from envs.contexts import ReachContext, resolve_context

ASSET = Path(__file__).parent / "assets" / "reach.xml"

DEFAULT_CAMERA_CONFIG = {"trackbodyid": -1, "distance": 1.2, "elevation": -90.0, "azimuth": 90.0,
                         "lookat": np.array([0.0, 0.3, 0.0])}


class ReachEnv(MujocoEnv, utils.EzPickle):
    r"""Centre-out reaches of a planar two-joint arm, the classic motor-adaptation task.

    ## Description
    A shoulder-elbow arm (two 0.30 m, 1 kg links, torque motors) moves in the horizontal
    plane. Each episode starts with the hand near a start position, 0.40 m in front of the
    shoulder, and asks it to reach one of ``n_targets`` targets on a circle of
    ``target_radius`` around the start (or a uniformly random direction when
    ``random_targets``) and stay there. Two kinds of *context* perturb the reach, as in human
    experiments:

    - a **curl force field** at the hand, F = b [[0, 1], [-1, 0]] v, with v the hand velocity
      (Shadmehr and Mussa-Ivaldi 1994). It is applied through MuJoCo's ``qfrc_applied`` as the
      equivalent joint torques J^T F before *every* physics step. For a two-link arm
      J^T S J = det(J) S, so the torques are b l1 l2 sin(q_elbow) (qdot_elbow, -qdot_shoulder);
    - a **visuomotor rotation**: the observed hand and target positions (and hand velocity) are
      rotated about the start by ``rotation_deg``; physics and reward are unchanged.

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: shoulder and elbow motor commands (gear ``gear`` N m).

    ## Observation Space
    ``Box(-inf, inf, (10 + n_contexts * context_cue,), float64)``:

    | idx | observation | unit |
    |---|---|---|
    | 0-1 | observed hand position relative to the start (rotated by the context) | m |
    | 2-3 | observed target position relative to the start (rotated) | m |
    | 4-5 | observed hand velocity (rotated) | m/s |
    | 6-7 | shoulder and elbow angle | rad |
    | 8-9 | shoulder and elbow angular velocity | rad/s |
    | 10- | one-hot of ``context_id`` (only when ``context_cue``) | |

    ## Rewards
    ``reward = -distance_weight * |hand - target| - ctrl_cost_weight * |a|^2``: smooth and
    bounded (the hand cannot leave a 0.6 m disc, the action is clipped). ``info`` holds both
    terms as ``reward_dist`` and ``reward_ctrl``.

    ## Starting State
    Joint angles that put the hand at the start, plus uniform noise of ``reset_noise_scale``
    (rad) on the angles and (rad/s) on the velocities.

    ## Episode End
    Never terminates; registered ids truncate after 50 steps (1 s at ``frame_skip=4`` and the
    5 ms physics step). ``info["is_success"]`` is True while the hand is within
    ``success_tolerance`` of the target: its value at the last step is the reach's success.

    ## Info
    ``reward_dist``, ``reward_ctrl``, ``distance`` (m, true hand to true target),
    ``is_success``, ``context_id``, ``target_index`` (-1 for a random target).

    ## Arguments
    - ``context``: a preset name of :data:`envs.contexts.REACH_CONTEXTS`, a dict of
      :class:`envs.contexts.ReachContext` fields, or an instance (default ``"null"``).
    - ``context_id`` / ``n_contexts`` / ``context_cue``: the context's index, the number of
      contexts, and whether the observation ends with a one-hot of the index.
    - ``cue_shown`` (True): False leaves the cue's slots at zero, a context that is not announced
      (a washout block must not carry a cue of its own, or it washes nothing out).
    - ``n_targets`` (8), ``target_radius`` (0.10 m), ``random_targets`` (False).
    - ``distance_weight`` (10.0), ``ctrl_cost_weight`` (0.01), ``success_tolerance`` (0.02 m).
    - ``reset_noise_scale`` (0.01), ``gear`` (5.0 N m per unit command), ``frame_skip`` (4).
    - ``render_mode``, ``width``, ``height``, ``camera_name``: as in gymnasium's MuJoCo envs.

    ``reset(options={"target_index": k})`` fixes the target of that episode (for balanced
    evaluation over all directions).
    """

    metadata = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}

    def __init__(
        self,
        context: str | Mapping[str, Any] | ReachContext | None = "null",
        context_id: int = 0,
        n_contexts: int = 1,
        context_cue: bool = False,
        cue_shown: bool = True,
        n_targets: int = 8,
        target_radius: float = 0.10,
        random_targets: bool = False,
        distance_weight: float = 10.0,
        ctrl_cost_weight: float = 0.01,
        success_tolerance: float = 0.02,
        reset_noise_scale: float = 0.01,
        gear: float = 5.0,
        frame_skip: int = 4,
        **kwargs: Any,
    ) -> None:
        utils.EzPickle.__init__(
            self, context, context_id, n_contexts, context_cue, cue_shown, n_targets, target_radius,
            random_targets, distance_weight, ctrl_cost_weight, success_tolerance,
            reset_noise_scale, gear, frame_skip, **kwargs,
        )
        self._init_task(context, context_id, n_contexts, context_cue, cue_shown, n_targets, target_radius,
                        random_targets, distance_weight, ctrl_cost_weight, success_tolerance,
                        reset_noise_scale, frame_skip)
        check_positive(gear=gear)
        obs_dim = 10 + (self.n_contexts if self.context_cue else 0)
        observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float64)
        kwargs.setdefault("default_camera_config", DEFAULT_CAMERA_CONFIG)
        MujocoEnv.__init__(self, str(ASSET), int(frame_skip), observation_space=observation_space, **kwargs)
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}
        self.model.actuator_gear[:, 0] = float(gear)
        self._init_arm()

    def _init_task(self, context, context_id, n_contexts, context_cue, cue_shown, n_targets, target_radius,
                   random_targets, distance_weight, ctrl_cost_weight, success_tolerance, reset_noise_scale,
                   frame_skip) -> None:
        """Check and keep the task's arguments (shared with the muscle arm, before the model exists)."""
        self.context = resolve_context("reach", context)
        check_cue(context_id, n_contexts)
        check_flag(cue_shown=cue_shown, context_cue=context_cue, random_targets=random_targets)
        check_positive(n_targets=n_targets, target_radius=target_radius, frame_skip=frame_skip,
                       success_tolerance=success_tolerance)
        check_non_negative(distance_weight=distance_weight, ctrl_cost_weight=ctrl_cost_weight,
                           reset_noise_scale=reset_noise_scale)
        self.context_id, self.n_contexts, self.context_cue = int(context_id), int(n_contexts), bool(context_cue)
        self.n_targets, self.target_radius = int(n_targets), float(target_radius)
        self.random_targets = bool(random_targets)
        self.distance_weight, self.ctrl_cost_weight = float(distance_weight), float(ctrl_cost_weight)
        self.success_tolerance, self.reset_noise_scale = float(success_tolerance), float(reset_noise_scale)
        self.cue_shown = bool(cue_shown)

    def _init_arm(self) -> None:
        """Read the arm's geometry from the model: hand, start, link lengths, field and rotation."""
        m = self.model
        self._hand = m.site("hand").id
        self._start = m.site("start").pos[:2].copy()
        fore = m.body("forearm").id
        self.link_lengths = (float(np.linalg.norm(m.body_pos[fore][:2])),
                             float(np.linalg.norm(m.site_pos[self._hand][:2])))
        # torque coefficient of the curl field: tau = k sin(q_elbow) (qdot_elbow, -qdot_shoulder)
        self._curl_k = self.context.curl_field * self.link_lengths[0] * self.link_lengths[1]
        theta = math.radians(self.context.rotation_deg)
        self._rot_cos, self._rot_sin = math.cos(theta), math.sin(theta)
        self._start_qpos = _inverse_kinematics(self._start, *self.link_lengths)
        self._cue = np.zeros(self.n_contexts if self.context_cue else 0)
        if self.context_cue and self.cue_shown:  # an unannounced context: the cue's slots stay zero
            self._cue[self.context_id] = 1.0
        self._cue_list = self._cue.tolist()
        self._start_xy = tuple(self._start.tolist())
        self._target = self._start_xy
        self._target_index = 0

    # -- physics ---------------------------------------------------------------------------
    def _step_mujoco_simulation(self, ctrl, n_frames) -> None:
        """Step the physics, re-applying the curl field's joint torques before each step."""
        m, d = self.model, self.data
        d.ctrl[:] = ctrl
        if self._curl_k == 0.0:
            mujoco.mj_step(m, d, nstep=n_frames)
            return
        # runs once per physics step: Python floats (numpy scalars are slower) and local names
        qpos, qvel, qfrc = d.qpos, d.qvel, d.qfrc_applied
        k, sin, mj_step = self._curl_k, math.sin, mujoco.mj_step
        for _ in range(n_frames):
            s = k * sin(qpos[1])
            v0, v1 = qvel.tolist()
            qfrc[0] = s * v1
            qfrc[1] = -s * v0
            mj_step(m, d)

    def curl_force(self) -> np.ndarray:
        """The field's force at the hand now, F = b S v (N), for tests and analysis."""
        vx, vy = self.hand_velocity().tolist()
        return self.context.curl_field * np.array([vy, -vx])

    def _arm_state(self) -> tuple[float, float, float, float]:
        """True hand position and velocity (m, m/s, world frame) from the joint state.

        Two-link forward kinematics on Python floats: consistent with qpos/qvel *after* a
        physics step (MuJoCo's ``site_xpos`` is computed before integration, one step late),
        and cheaper than reading MuJoCo's derived quantities.
        """
        (q1, q2), (qd1, qd2) = self.data.qpos.tolist(), self.data.qvel.tolist()
        l1, l2 = self.link_lengths
        c1, s1, c12, s12 = math.cos(q1), math.sin(q1), math.cos(q1 + q2), math.sin(q1 + q2)
        qd12 = qd1 + qd2
        return (l1 * c1 + l2 * c12, l1 * s1 + l2 * s12,
                -l1 * s1 * qd1 - l2 * s12 * qd12, l1 * c1 * qd1 + l2 * c12 * qd12)

    def hand_position(self) -> np.ndarray:
        """True hand position in the plane (m, world frame)."""
        return np.array(self._arm_state()[:2])

    def hand_velocity(self) -> np.ndarray:
        """True hand velocity in the plane (m/s), J(q) qdot."""
        return np.array(self._arm_state()[2:])

    @property
    def target_position(self) -> np.ndarray:
        """True target position in the plane (m, world frame)."""
        return np.array(self._target)

    # -- gymnasium API ---------------------------------------------------------------------
    def step(self, action):
        a0, a1 = (action.tolist() if isinstance(action, np.ndarray) else [float(a) for a in action])
        # clip on floats (np.clip on a 2-vector costs about as much as a physics step)
        a0 = -1.0 if a0 < -1.0 else 1.0 if a0 > 1.0 else a0
        a1 = -1.0 if a1 < -1.0 else 1.0 if a1 > 1.0 else a1
        self._step_mujoco_simulation((a0, a1), self.frame_skip)
        hx, hy, vx, vy = self._arm_state()
        reward, info = self._reward_and_info(hx, hy, a0 * a0 + a1 * a1)
        if self.render_mode == "human":
            self.render()
        return self._observe(hx, hy, vx, vy), reward, False, False, info

    def _reward_and_info(self, hx: float, hy: float, command_sq: float) -> tuple[float, dict[str, Any]]:
        """The step's reward and its documented info, from the true hand and the command's |a|^2."""
        tx, ty = self._target
        distance = math.hypot(hx - tx, hy - ty)
        reward_dist = -self.distance_weight * distance
        reward_ctrl = -self.ctrl_cost_weight * command_sq
        info = {
            "reward_dist": reward_dist,
            "reward_ctrl": reward_ctrl,
            "distance": distance,
            "is_success": distance < self.success_tolerance,
            "context_id": self.context_id,
            "target_index": self._target_index,
        }
        return reward_dist + reward_ctrl, info

    def do_simulation(self, ctrl, n_frames) -> None:
        # gymnasium's version adds a shape check and mj_rnePostConstraint, which this
        # task never reads: skipping them is a measurable part of the step cost.
        self._step_mujoco_simulation(ctrl, n_frames)

    def reset_model(self) -> np.ndarray:
        noise = self.reset_noise_scale
        qpos = self._start_qpos + self.np_random.uniform(-noise, noise, size=2)
        qvel = self.np_random.uniform(-noise, noise, size=2)
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        self.data.qfrc_applied[:] = 0.0
        return self._get_obs()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        target_index = options.pop("target_index", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}: allowed is 'target_index'")
        gymnasium.Env.reset(self, seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        if target_index is None and not self.random_targets:
            target_index = int(self.np_random.integers(self.n_targets))
        if target_index is None:
            angle = float(self.np_random.uniform(0.0, 2.0 * math.pi))
            self._target_index = -1
        else:
            if not 0 <= int(target_index) < self.n_targets:
                raise ValueError(f"target_index={target_index!r} is not allowed: expected 0..{self.n_targets - 1}")
            self._target_index = int(target_index)
            angle = 2.0 * math.pi * self._target_index / self.n_targets
        sx, sy = self._start.tolist()
        self._target = (sx + self.target_radius * math.cos(angle), sy + self.target_radius * math.sin(angle))
        self.data.mocap_pos[0, :2] = self._target
        obs = self.reset_model()
        mujoco.mj_forward(self.model, self.data)  # derived quantities (rendering) match the new state
        hx, hy = self.hand_position().tolist()
        info = {"context_id": self.context_id, "target_index": self._target_index,
                "distance": math.hypot(hx - self._target[0], hy - self._target[1])}
        if self.render_mode == "human":
            self.render()
        return obs, info

    def _get_obs(self) -> np.ndarray:
        return self._observe(*self._arm_state())

    def _observe(self, hx: float, hy: float, vx: float, vy: float) -> np.ndarray:
        """The observation: seen (rotated) hand, target and hand velocity, joints, cue."""
        c, s = self._rot_cos, self._rot_sin
        sx, sy = self._start_xy
        hx, hy, tx, ty = hx - sx, hy - sy, self._target[0] - sx, self._target[1] - sy
        return np.array([c * hx - s * hy, s * hx + c * hy, c * tx - s * ty, s * tx + c * ty,
                         c * vx - s * vy, s * vx + c * vy,
                         *self.data.qpos.tolist(), *self.data.qvel.tolist(), *self._cue_list])


def _inverse_kinematics(hand: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """Shoulder and elbow angles (elbow > 0) that put the hand at ``hand``."""
    r2 = float(hand @ hand)
    cos_elbow = (r2 - l1 * l1 - l2 * l2) / (2.0 * l1 * l2)
    elbow = math.acos(max(-1.0, min(1.0, cos_elbow)))
    shoulder = math.atan2(hand[1], hand[0]) - math.atan2(l2 * math.sin(elbow), l1 + l2 * math.cos(elbow))
    return np.array([shoulder, elbow])
