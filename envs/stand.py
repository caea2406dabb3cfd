"""Upright stance: a two-segment standing body (legs, trunk) on a platform that tilts or slides."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces, utils
from gymnasium.envs.mujoco import MujocoEnv

from envs.checks import check_cue, check_flag, check_non_negative, check_positive
from envs.contexts import StandContext, resolve_context

ASSET = Path(__file__).parent / "assets" / "stand.xml"

DEFAULT_CAMERA_CONFIG = {"trackbodyid": -1, "distance": 4.0, "elevation": 0.0, "azimuth": 90.0,
                         "lookat": np.array([0.0, 0.0, 0.9])}

GRAVITY = 9.81


def minimum_jerk(tau: float) -> tuple[float, float, float]:
    """Position, velocity and acceleration of a minimum-jerk move from 0 to 1 in unit time, at ``tau``
    (clamped to [0, 1]): 10 tau^3 - 15 tau^4 + 6 tau^5 (Flash and Hogan 1985)."""
    if tau <= 0.0:
        return 0.0, 0.0, 0.0
    if tau >= 1.0:
        return 1.0, 0.0, 0.0
    t2 = tau * tau
    return (t2 * tau * (10.0 - 15.0 * tau + 6.0 * t2), 30.0 * t2 * (1.0 - tau) ** 2,
            60.0 * tau * (1.0 - tau) * (1.0 - 2.0 * tau))


class StandEnv(MujocoEnv, utils.EzPickle):
    r"""Stand upright on a platform that moves, the standing-body member of the balance family.

    ## Description
    A planar (sagittal) double inverted pendulum: legs (ankle to hip, 0.86 m, 22.0 kg) and trunk,
    head and arms (50.9 kg) of a 1.75 m, 75 kg adult, after Winter's anthropometric tables, with
    its feet fixed to a platform; torque motors at the ankle and the hip (+-150 N m). Every number
    and its source is in ``envs/assets/stand.xml``. The agent keeps the body upright with as
    little effort as it can, by the ankle strategy (the body moves as one segment about the
    ankles), the hip strategy (trunk and legs move in opposite directions) or a mix (Horak and
    Nashner 1986; Kuo and Zajac 1993): ``info`` has both joint angles, so the strategy can be read.

    Once per episode, at a time drawn uniformly in [``earliest_onset``, ``latest_onset``] s, the
    platform makes the context's move in ``perturbation_duration`` s with a minimum-jerk profile
    and then stays there: a rotation about the ankle axis (as Nashner's platforms rotate) and/or a
    translation. The platform is driven kinematically (see the asset), so the body feels its
    acceleration; a tilt stretches or shortens the passive ankle stiffness (0.15 m g h). The
    context also sets the world:

    - ``platform_tilt_deg``: the platform's final pitch (> 0 toes down, < 0 toes up);
    - ``platform_shift``: its final displacement in m (> 0 towards the toes);
    - ``gravity_tilt_deg``: gravity tilted in the sagittal plane (> 0 towards the toes), an
      unseen constant pull, as in Balance: the world-vertical posture is no longer free;
    - ``mass_scale``: the legs' and the trunk's masses and inertias scaled (not the passive
      stiffness, not the motors).

    ## Contexts
    The presets of :data:`envs.contexts.STAND_CONTEXTS`: ``tilt_forward``/``tilt_backward`` (+-10
    deg), ``translate_forward``/``translate_backward`` (+-0.15 m), ``gravity_tilt_plus``/``minus``
    (+-8 deg), ``heavy``/``light`` (x2, x0.5, as Balance's masses), and ``null``. The strengths were
    chosen with :class:`agents.reference.StandPDController` (gravity compensation of the context it
    is tuned for, its set-point lean the best of -0.06..0.11 rad per context; 16 episodes, returns
    out of 250, success rate):

    | pair (A, B) | A's PD on A | B's on B | A's on B | B's on A | a PD tuned for null, on A / B |
    |---|---|---|---|---|---|
    | gravity tilt +8 / -8 deg | 239, 1.0 | 239, 1.0 | 12, 0.0 | 16, 0.0 | 30, 0.0 / 20, 0.0 |
    | translate +0.15 / -0.15 m | 209, 1.0 (lean 0.04) | 241, 1.0 | 204, 1.0 | 67, 0.0 | 67, 0.0 / 241, 1.0 |
    | tilt +10 / -10 deg | 250, 1.0 | 250, 1.0 | 250, 1.0 | 250, 1.0 | 250, 1.0 / 250, 1.0 |
    | mass x2 / x0.5 | 250, 1.0 | 250, 1.0 | 250, 1.0 | 250, 1.0 | 250, 1.0 / 250, 1.0 |

    - Gravity tilts conflict both ways: at +-8 deg the world-vertical body needs 97 N m at the
      ankle (65 % of the motor), and a compensation of the wrong sign or none lets it fall (at +-5
      deg a PD without compensation still stood in both, as Balance's +-15 deg did for PPO).
    - Translations conflict one way: 0.15 m in 0.3 s (peak acceleration 9.6 m/s^2) forward sways
      the body towards the heels, 0.06 m behind the ankle, and only a forward lean held before the
      (unannounced) onset saves it; that lean costs little under the backward shift, which sways
      the body towards the toes, 0.206 m in front. The feet make the pair asymmetric.
    - Tilts and masses do not conflict for this controller: it sees the world vertical and the
      ankle angle, so the tilt's pull on the passive ankle stiffness (18 N m at 10 deg) is cancelled
      from the state, and its gains (which saturate the motors) hide a mass error. Whether they
      conflict for a learner is not measured. They are the brief's contexts, at strengths of the
      same order as the others.

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: ankle and hip torque commands (gear 150 N m each); values
    outside [-1, 1] act, and cost, as their clipped value.

    ## Observation Space
    ``Box(-inf, inf, (6 + n_contexts * context_cue,), float64)``:

    | idx | observation | unit |
    |---|---|---|
    | 0 | ankle angle: legs relative to the feet (> 0 forward) | rad |
    | 1 | hip angle: trunk relative to the legs (> 0 flexion, forward) | rad |
    | 2 | trunk angle from the world vertical (the vestibular sense) | rad |
    | 3-5 | their angular velocities | rad/s |
    | 6- | one-hot of ``context_id`` (only when ``context_cue``) | |

    The platform's state is not observed: the body feels it through the joints and the trunk.

    ## Rewards
    ``reward_posture = healthy_reward * exp(-(theta_legs^2 + theta_trunk^2) / (2 posture_scale^2))``
    with theta the segments' angles from the world vertical, and ``reward_ctrl = -ctrl_cost_weight
    * |a|^2`` (a the clipped commands): bounded in [-2 ctrl_cost_weight, healthy_reward].

    ## Starting State
    Upright on a level platform, uniform noise of ``reset_noise_scale`` on the joint angles and
    velocities.

    ## Episode End
    Terminates at a fall: the centre of mass (feet aside) leaves the base of support (horizontally
    between the heel and the toe of the feet, 0.06 m behind and 0.206 m in front of the ankle on a
    level platform), a segment is more than ``max_segment_angle`` from the vertical, or the state
    is not finite. Registered ids truncate after 250 steps of 20 ms (5 s; four 5 ms physics
    steps). ``info["is_success"]`` is True while the body has not fallen, so at the last step it
    says whether the episode was upright throughout.

    ## Info
    ``reward_posture``, ``reward_ctrl``, ``ankle_angle`` and ``hip_angle`` (rad, as observed),
    ``com_x`` (m, the centre of mass's horizontal offset from the ankle), ``platform_shift`` (m),
    ``platform_tilt`` (rad), ``is_success``, ``context_id``; the reset's info has ``context_id``,
    ``ankle_angle``, ``hip_angle`` and ``perturbation_onset`` (s).

    ## Arguments
    - ``context``: a preset name of :data:`envs.contexts.STAND_CONTEXTS`, a dict of
      :class:`envs.contexts.StandContext` fields, or an instance (default ``"null"``).
    - ``context_id`` / ``n_contexts`` / ``context_cue`` / ``cue_shown``: as in :class:`envs.reach.ReachEnv`.
    - ``healthy_reward`` (1.0), ``ctrl_cost_weight`` (0.1), ``posture_scale`` (0.1 rad).
    - ``max_segment_angle`` (0.8 rad), ``reset_noise_scale`` (0.01), ``frame_skip`` (4).
    - ``perturbation_duration`` (0.3 s), ``earliest_onset`` (0.5 s), ``latest_onset`` (2.0 s).
    - ``render_mode``, ``width``, ``height``, ``camera_name``: as in gymnasium's MuJoCo envs.

    The onset is drawn from ``np_random`` on every reset, in every context, so a seed gives the same
    start in every context. ``reset(options={"onset": t})`` fixes the episode's onset (s).
    """

    metadata = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}

    def __init__(
        self,
        context: str | Mapping[str, Any] | StandContext | None = "null",
        context_id: int = 0,
        n_contexts: int = 1,
        context_cue: bool = False,
        cue_shown: bool = True,
        healthy_reward: float = 1.0,
        ctrl_cost_weight: float = 0.1,
        posture_scale: float = 0.1,
        max_segment_angle: float = 0.8,
        reset_noise_scale: float = 0.01,
        perturbation_duration: float = 0.3,
        earliest_onset: float = 0.5,
        latest_onset: float = 2.0,
        frame_skip: int = 4,
        **kwargs: Any,
    ) -> None:
        utils.EzPickle.__init__(
            self, context, context_id, n_contexts, context_cue, cue_shown, healthy_reward, ctrl_cost_weight,
            posture_scale, max_segment_angle, reset_noise_scale, perturbation_duration, earliest_onset,
            latest_onset, frame_skip, **kwargs,
        )
        self.context = resolve_context("stand", context)
        check_cue(context_id, n_contexts)
        check_flag(cue_shown=cue_shown, context_cue=context_cue)
        check_positive(healthy_reward=healthy_reward, posture_scale=posture_scale,
                       max_segment_angle=max_segment_angle, perturbation_duration=perturbation_duration,
                       frame_skip=frame_skip)
        check_non_negative(ctrl_cost_weight=ctrl_cost_weight, reset_noise_scale=reset_noise_scale,
                           earliest_onset=earliest_onset, latest_onset=latest_onset)
        if max_segment_angle >= math.pi / 2:
            raise ValueError(f"max_segment_angle={max_segment_angle!r} is not allowed: expected a float in (0, pi/2)")
        if latest_onset < earliest_onset:
            raise ValueError(f"latest_onset={latest_onset!r} is not allowed: expected a time >= earliest_onset="
                             f"{earliest_onset!r}")
        self.context_id, self.n_contexts, self.context_cue = int(context_id), int(n_contexts), bool(context_cue)
        self.healthy_reward, self.ctrl_cost_weight = float(healthy_reward), float(ctrl_cost_weight)
        self.posture_scale, self.max_segment_angle = float(posture_scale), float(max_segment_angle)
        self.reset_noise_scale, self.perturbation_duration = float(reset_noise_scale), float(perturbation_duration)
        self.earliest_onset, self.latest_onset = float(earliest_onset), float(latest_onset)

        obs_dim = 6 + (self.n_contexts if self.context_cue else 0)
        observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float64)
        kwargs.setdefault("default_camera_config", DEFAULT_CAMERA_CONFIG)
        MujocoEnv.__init__(self, str(ASSET), int(frame_skip), observation_space=observation_space, **kwargs)
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}
        self._apply_context()
        self._read_body()
        self._cue = np.zeros(self.n_contexts if self.context_cue else 0)
        self.cue_shown = bool(cue_shown)
        if self.context_cue and self.cue_shown:  # an unannounced context: the cue's slots stay zero
            self._cue[self.context_id] = 1.0
        self._cue_list = self._cue.tolist()
        self.onset = self.earliest_onset
        self._upright_so_far = True

    # -- set-up ----------------------------------------------------------------------------
    def _apply_context(self) -> None:
        """Write the context's gravity and body masses into the MuJoCo model."""
        m, ctx = self.model, self.context
        tilt = math.radians(ctx.gravity_tilt_deg)
        m.opt.gravity[:] = (GRAVITY * math.sin(tilt), 0.0, -GRAVITY * math.cos(tilt))
        for name in ("legs", "trunk"):
            body = m.body(name).id
            m.body_mass[body] *= ctx.mass_scale
            m.body_inertia[body] *= ctx.mass_scale
        mujoco.mj_setConst(m, self.data)

    def _read_body(self) -> None:
        """The geometry the task reads, from the model: segment lengths, centres of mass, the feet."""
        m = self.model
        legs, trunk = m.body("legs").id, m.body("trunk").id
        self._ankle_height = float(m.body_pos[legs, 2])
        self.leg_length = float(m.body_pos[trunk, 2])  # m, ankle to hip
        # m, the legs' centre of mass above the ankle, the trunk's above the hip
        self.com_legs, self.com_trunk = float(m.body_ipos[legs, 2]), float(m.body_ipos[trunk, 2])
        mass_legs, mass_trunk = float(m.body_mass[legs]), float(m.body_mass[trunk])
        self._share_legs, self._share_trunk = (mass_legs / (mass_legs + mass_trunk),
                                               mass_trunk / (mass_legs + mass_trunk))
        self._heel = -float(m.site("heel").pos[0])  # m behind the ankle
        self._toe = float(m.site("toe").pos[0])     # m in front of it
        # every joint is a slide or a hinge, in this order: one index for its position and velocity
        self._shift, self._tilt, self._ankle, self._hip = (
            int(m.joint(name).qposadr[0]) for name in ("platform_shift", "platform_tilt", "ankle", "hip"))
        assert m.nq == m.nv and (self._shift, self._tilt, self._ankle, self._hip) == (0, 1, 2, 3)
        self._armature = (float(m.dof_armature[self._shift]), float(m.dof_armature[self._tilt]))
        self._final = (self.context.platform_shift, math.radians(self.context.platform_tilt_deg))
        self._moves = self._final != (0.0, 0.0)

    # -- the platform ----------------------------------------------------------------------
    def platform_state(self, t: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """(position, velocity, acceleration) of the platform's shift (m) and tilt (rad) at time ``t``."""
        duration = self.perturbation_duration
        s, v, a = minimum_jerk((t - self.onset) / duration)
        (shift, tilt) = self._final
        return ((shift * s, shift * v / duration, shift * a / duration ** 2),
                (tilt * s, tilt * v / duration, tilt * a / duration ** 2))

    def _set_platform(self, t: float) -> tuple[float, float]:
        """Put the platform where the profile has it at ``t``; return its accelerations."""
        d = self.data
        (x, vx, ax), (p, vp, ap) = self.platform_state(t) if self._moves else ((0.0,) * 3, (0.0,) * 3)
        d.qpos[self._shift], d.qvel[self._shift] = x, vx
        d.qpos[self._tilt], d.qvel[self._tilt] = p, vp
        return ax, ap

    def _step_mujoco_simulation(self, ctrl, n_frames) -> None:
        """Step the physics with the platform on its prescribed path (reset before every physics step)."""
        m, d = self.model, self.data
        d.ctrl[:] = ctrl
        (k_shift, k_tilt), qfrc = self._armature, d.qfrc_applied
        for _ in range(n_frames):
            ax, ap = self._set_platform(d.time)
            qfrc[self._shift], qfrc[self._tilt] = k_shift * ax, k_tilt * ap
            mujoco.mj_step(m, d)
        self._set_platform(d.time)

    def do_simulation(self, ctrl, n_frames) -> None:
        self._step_mujoco_simulation(ctrl, n_frames)

    # -- the body --------------------------------------------------------------------------
    def posture(self) -> dict[str, float]:
        """Joint angles, the segments' angles from the world vertical and their rates (rad, rad/s),
        the centre of mass and the feet's ends relative to the ankle (m, horizontal), and the
        platform's state (m, rad), from the current state."""
        shift, tilt, ankle, hip = self.data.qpos.tolist()
        _, tilt_rate, ankle_rate, hip_rate = self.data.qvel.tolist()
        legs = tilt + ankle
        trunk = legs + hip
        com_x = (self._share_legs * self.com_legs * math.sin(legs)
                 + self._share_trunk * (self.leg_length * math.sin(legs) + self.com_trunk * math.sin(trunk)))
        c, s, h = math.cos(tilt), math.sin(tilt), self._ankle_height
        return {"ankle": ankle, "hip": hip, "legs": legs, "trunk": trunk, "legs_rate": tilt_rate + ankle_rate,
                "trunk_rate": tilt_rate + ankle_rate + hip_rate, "com_x": com_x,
                "heel_x": -self._heel * c - h * s, "toe_x": self._toe * c - h * s,
                "platform_shift": shift, "platform_tilt": tilt}

    # -- gymnasium API ---------------------------------------------------------------------
    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        self._step_mujoco_simulation(a, self.frame_skip)
        p = self.posture()
        finite = bool(np.all(np.isfinite(self.data.qpos)) and np.all(np.isfinite(self.data.qvel)))
        upright = (finite and p["heel_x"] <= p["com_x"] <= p["toe_x"]
                   and abs(p["legs"]) <= self.max_segment_angle and abs(p["trunk"]) <= self.max_segment_angle)
        self._upright_so_far = self._upright_so_far and upright
        error = (p["legs"] ** 2 + p["trunk"] ** 2) / (2.0 * self.posture_scale ** 2) if finite else math.inf
        reward_posture = self.healthy_reward * math.exp(-error)
        reward_ctrl = -self.ctrl_cost_weight * float(a @ a)
        info = {
            "reward_posture": reward_posture,
            "reward_ctrl": reward_ctrl,
            "ankle_angle": p["ankle"],
            "hip_angle": p["hip"],
            "com_x": p["com_x"],
            "platform_shift": p["platform_shift"],
            "platform_tilt": p["platform_tilt"],
            "is_success": self._upright_so_far,
            "context_id": self.context_id,
        }
        if self.render_mode == "human":
            self.render()
        return self._get_obs(), reward_posture + reward_ctrl, not upright, False, info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        unknown = sorted(set(options) - {"onset"})
        if unknown:
            raise ValueError(f"unknown reset options {unknown}: allowed is 'onset' (s)")
        onset = options.get("onset")
        if onset is not None:
            check_non_negative(onset=onset)
        obs, info = super().reset(seed=seed)
        if onset is not None:
            self.onset = float(onset)
            info["perturbation_onset"] = self.onset
        return obs, info

    def reset_model(self) -> np.ndarray:
        noise, body = self.reset_noise_scale, slice(self._ankle, self._hip + 1)
        qpos, qvel = self.init_qpos.copy(), self.init_qvel.copy()
        qpos[body] += self.np_random.uniform(-noise, noise, size=2)
        qvel[body] += self.np_random.uniform(-noise, noise, size=2)
        self.set_state(qpos, qvel)
        self.onset = float(self.np_random.uniform(self.earliest_onset, self.latest_onset))
        self._upright_so_far = True
        return self._get_obs()

    def _get_reset_info(self) -> dict[str, Any]:
        p = self.posture()
        return {"context_id": self.context_id, "ankle_angle": p["ankle"], "hip_angle": p["hip"],
                "perturbation_onset": self.onset}

    def _get_obs(self) -> np.ndarray:
        _, tilt, ankle, hip = self.data.qpos.tolist()
        _, tilt_velocity, ankle_velocity, hip_velocity = self.data.qvel.tolist()
        return np.array([ankle, hip, tilt + ankle + hip, ankle_velocity, hip_velocity,
                         tilt_velocity + ankle_velocity + hip_velocity, *self._cue_list])
