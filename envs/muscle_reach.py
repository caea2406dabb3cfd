"""Centre-out reaching with a six-muscle planar arm (MotorNet's Arm26), with sensory delays, noise,
catch trials and force-channel probe trials: the reach task as motor neuroscientists run it."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces, utils
from gymnasium.envs.mujoco import MujocoEnv

from envs.checks import check_count, check_non_negative, check_probability
from envs.contexts import ReachContext
from envs.reach import DEFAULT_CAMERA_CONFIG, ReachEnv

ASSET = Path(__file__).parent / "assets" / "muscle_reach.xml"

#: the kinds of trial an episode can be: the context's field, a catch trial (no field) or a
#: force-channel probe (the channel instead of the field)
TRIALS = ("field", "catch", "probe")


class MuscleReachEnv(ReachEnv):
    r"""Centre-out reaches of a planar shoulder-elbow arm driven by six muscles.

    ## Description
    The reach of :class:`envs.reach.ReachEnv` (same start 0.40 m in front of the shoulder, targets,
    contexts, reward and success) on the Arm26 arm MotorNet documents (``motornet/effector.py``,
    ``RigidTendonArm26``; segments after Nijhof and Kouwenhoven 2000, muscles after Kistemaker,
    Wong and Gribble 2010): upper arm 0.309 m / 1.82 kg, forearm 0.333 m / 1.43 kg, and six MuJoCo
    muscles on fixed tendons (constant moment arms): shoulder flexor (pectoralis) and extensor
    (deltoid), elbow flexor (brachioradialis) and extensor (triceps lateral head), biarticular
    flexor (biceps) and extensor (triceps long head). Every parameter and its source is in
    ``envs/assets/muscle_reach.xml``. MuJoCo's muscle model supplies activation dynamics (15 ms up,
    50 ms down) and force-length-velocity curves; the agent sends excitations.

    - **Curl force field** F = b [[0, 1], [-1, 0]] v at the hand and **visuomotor rotation** of
      the seen hand, target and hand velocity: the contexts of :data:`envs.contexts.REACH_CONTEXTS`,
      as in Reach. The field is applied as joint torques J^T F before every physics step.
    - **Sensory delays**: the visual part of the observation (seen hand position and velocity)
      is ``visual_delay`` control steps old, the proprioceptive part (joint angles and velocities,
      muscle forces) ``proprioceptive_delay`` steps old: each is read from a FIFO that the reset
      fills with the initial measurement. The target does not move and is shown without delay.
    - **Noise**: Gaussian noise of std ``motor_noise`` on the excitations (then clipped to
      [0, 1]) and of std ``sensory_noise`` on every delayed measurement (added when measured),
      both drawn from the env's ``np_random``.
    - **Catch trials** (probability ``catch_trial_prob``): the field is off for the episode.
    - **Force-channel probe trials** (probability ``probe_trial_prob``; Scheidt et al. 2000): in
      place of the field, a spring-damper F = -(k e + c de/dt) n perpendicular to the straight
      line from the start to the (true) target, with e the hand's signed distance from the line
      along its normal n, holds the hand on the line; ``info["channel_force"]`` is the lateral
      force (N, along n), so that the force the agent pushes against the channel, its prediction
      of the field, can be read off.

    ## Action Space
    ``Box(0, 1, (6,), float32)``: muscle excitations, in the order above. Values outside [0, 1]
    act, and cost, as their clipped value.

    ## Observation Space
    ``Box(-inf, inf, (16 + n_contexts * context_cue,), float64)``:

    | idx | observation | unit | delay |
    |---|---|---|---|
    | 0-1 | seen hand position relative to the start (rotated by the context) | m | visual |
    | 2-3 | seen target position relative to the start (rotated) | m | none |
    | 4-5 | seen hand velocity (rotated) | m/s | visual |
    | 6-7 | shoulder and elbow angle | rad | proprioceptive |
    | 8-9 | shoulder and elbow angular velocity | rad/s | proprioceptive |
    | 10-15 | muscle forces / peak isometric forces (tendon organs) | | proprioceptive |
    | 16- | one-hot of ``context_id`` (only when ``context_cue``) | | none |

    Muscle lengths and velocities (the spindles) are left out: with fixed tendons they are linear
    in 6-9.

    ## Rewards
    As Reach's: ``-distance_weight * |hand - target| - ctrl_cost_weight * |a|^2`` with ``a`` the
    clipped excitations the agent sent (before motor noise); ``info`` holds ``reward_dist`` and
    ``reward_ctrl``.

    ## Starting State
    As Reach's (angles of the start posture plus uniform noise), all muscles inactive.

    ## Episode End
    Never terminates; registered ids truncate after 100 control steps of 10 ms (two 5 ms physics
    steps, MotorNet's time step): 1 s. ``info["is_success"]`` as in Reach.

    ## Info
    Reach's keys (``reward_dist``, ``reward_ctrl``, ``distance``, ``is_success``, ``context_id``,
    ``target_index``) and ``catch_trial``, ``probe_trial`` (bools, also in the reset's info) and
    ``channel_force`` (N, the channel's lateral force in the last physics step; 0 outside probes).

    ## Arguments
    Reach's, except ``gear`` (muscles have none) and ``frame_skip`` (default 2), and:

    - ``proprioceptive_delay`` (0), ``visual_delay`` (0): delays in control steps (integers >= 0).
    - ``motor_noise`` (0.0), ``sensory_noise`` (0.0): standard deviations (excitation units; the
      measurement's own units).
    - ``catch_trial_prob`` (0.0), ``probe_trial_prob`` (0.0): per-episode probabilities (sum <= 1).
    - ``channel_stiffness`` (6000 N/m), ``channel_damping`` (150 N s/m): the channel's spring and
      damper, chosen here (robot channels are of the order of kN/m). The channel is applied
      explicitly, once per 5 ms physics step: under random excitations it stayed stable up to
      20000 N/m with 300 N s/m and diverged at 40000 N/m or at 600 N s/m.

    With every one of these at its default the env is Reach on the muscle arm. The reset's
    trial type is drawn from ``np_random`` on every reset whatever the probabilities, so a seed
    gives the same targets and start states at any probabilities. ``reset(options=...)`` takes
    ``target_index`` (as Reach) and ``trial`` (``"field"``, ``"catch"`` or ``"probe"``), which
    fixes the episode's trial type.
    """

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
        frame_skip: int = 2,
        proprioceptive_delay: int = 0,
        visual_delay: int = 0,
        motor_noise: float = 0.0,
        sensory_noise: float = 0.0,
        catch_trial_prob: float = 0.0,
        probe_trial_prob: float = 0.0,
        channel_stiffness: float = 6000.0,
        channel_damping: float = 150.0,
        **kwargs: Any,
    ) -> None:
        utils.EzPickle.__init__(
            self, context, context_id, n_contexts, context_cue, cue_shown, n_targets, target_radius,
            random_targets, distance_weight, ctrl_cost_weight, success_tolerance, reset_noise_scale,
            frame_skip, proprioceptive_delay, visual_delay, motor_noise, sensory_noise, catch_trial_prob,
            probe_trial_prob, channel_stiffness, channel_damping, **kwargs,
        )
        self._init_task(context, context_id, n_contexts, context_cue, cue_shown, n_targets, target_radius,
                        random_targets, distance_weight, ctrl_cost_weight, success_tolerance,
                        reset_noise_scale, frame_skip)
        check_count(proprioceptive_delay=proprioceptive_delay, visual_delay=visual_delay)
        check_non_negative(motor_noise=motor_noise, sensory_noise=sensory_noise,
                           channel_stiffness=channel_stiffness, channel_damping=channel_damping)
        check_probability(catch_trial_prob=catch_trial_prob, probe_trial_prob=probe_trial_prob)
        if float(catch_trial_prob) + float(probe_trial_prob) > 1.0:
            raise ValueError(f"catch_trial_prob={catch_trial_prob!r} with probe_trial_prob={probe_trial_prob!r} "
                             "is not allowed: expected probabilities whose sum is at most 1")
        self.proprioceptive_delay, self.visual_delay = int(proprioceptive_delay), int(visual_delay)
        self.motor_noise, self.sensory_noise = float(motor_noise), float(sensory_noise)
        self.catch_trial_prob, self.probe_trial_prob = float(catch_trial_prob), float(probe_trial_prob)
        self.channel_stiffness, self.channel_damping = float(channel_stiffness), float(channel_damping)

        obs_dim = 16 + (self.n_contexts if self.context_cue else 0)
        observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float64)
        kwargs.setdefault("default_camera_config", DEFAULT_CAMERA_CONFIG)
        MujocoEnv.__init__(self, str(ASSET), int(frame_skip), observation_space=observation_space, **kwargs)
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}
        self._init_arm()
        self.peak_forces = self.model.actuator_gainprm[:, 2].copy()  # N, the muscles' `force`
        self.trial = "field"
        self.channel_force = 0.0
        self.last_hand_force = (0.0, 0.0)  # N, the external force at the hand in the last physics step
        self._normal = (0.0, 0.0)
        self._visual: deque[np.ndarray] = deque(maxlen=self.visual_delay + 1)
        self._proprio: deque[np.ndarray] = deque(maxlen=self.proprioceptive_delay + 1)

    # -- physics ---------------------------------------------------------------------------
    def _step_mujoco_simulation(self, ctrl, n_frames) -> None:
        """Step the physics; before each step apply the trial's hand force (field or channel) as J^T F."""
        m, d = self.model, self.data
        d.ctrl[:] = ctrl
        probe = self.trial == "probe"
        if self.trial == "catch" or (not probe and self.context.curl_field == 0.0):
            mujoco.mj_step(m, d, nstep=n_frames)
            return
        qfrc, b, l1 = d.qfrc_applied, self.context.curl_field, self.link_lengths[0]
        (sx, sy), (nx, ny) = self._start_xy, self._normal
        k, c = self.channel_stiffness, self.channel_damping
        fx = fy = 0.0
        for _ in range(n_frames):
            hx, hy, vx, vy = self._arm_state()
            if probe:
                lateral = -(k * ((hx - sx) * nx + (hy - sy) * ny) + c * (vx * nx + vy * ny))
                fx, fy = lateral * nx, lateral * ny
                self.channel_force = lateral
            else:
                fx, fy = b * vy, -b * vx
            q1 = float(d.qpos[0])
            ex, ey = l1 * math.cos(q1), l1 * math.sin(q1)  # the elbow; the shoulder is at the origin
            qfrc[0] = hx * fy - hy * fx                    # J^T F: the force's moment about each joint
            qfrc[1] = (hx - ex) * fy - (hy - ey) * fx
            mujoco.mj_step(m, d)
        self.last_hand_force = (fx, fy)

    # -- gymnasium API ---------------------------------------------------------------------
    def step(self, action):
        command = np.clip(np.asarray(action, dtype=np.float64).reshape(self.model.nu), 0.0, 1.0)
        excitation = command
        if self.motor_noise > 0.0:
            noise = self.motor_noise * self.np_random.standard_normal(self.model.nu)
            excitation = np.clip(command + noise, 0.0, 1.0)
        self._step_mujoco_simulation(excitation, self.frame_skip)
        hx, hy, vx, vy = self._arm_state()
        reward, info = self._reward_and_info(hx, hy, float(command @ command))
        info.update(self._trial_info(), channel_force=self.channel_force)
        self._measure(hx, hy, vx, vy)
        if self.render_mode == "human":
            self.render()
        return self._delayed_obs(), reward, False, False, info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        options = dict(options or {})
        unknown = sorted(set(options) - {"target_index", "trial"})
        if unknown:
            raise ValueError(f"unknown reset options {unknown}: allowed are 'target_index' and 'trial'")
        trial = options.pop("trial", None)
        if trial is not None and trial not in TRIALS:
            raise ValueError(f"trial={trial!r} is not allowed: expected one of {list(TRIALS)}")
        _, info = super().reset(seed=seed, options=options)
        draw = float(self.np_random.uniform())  # drawn on every reset: see the class docstring
        if trial is None:
            probe, catch = self.probe_trial_prob, self.catch_trial_prob
            trial = "probe" if draw < probe else "catch" if draw < probe + catch else "field"
        self.trial, self.channel_force, self.last_hand_force = trial, 0.0, (0.0, 0.0)
        (sx, sy), (tx, ty) = self._start_xy, self._target
        length = math.hypot(tx - sx, ty - sy)
        self._normal = (-(ty - sy) / length, (tx - sx) / length)
        self._visual.clear()
        self._proprio.clear()
        self._measure(*self._arm_state())
        self._visual.extend([self._visual[0]] * self.visual_delay)
        self._proprio.extend([self._proprio[0]] * self.proprioceptive_delay)
        return self._delayed_obs(), {**info, **self._trial_info()}

    def _trial_info(self) -> dict[str, bool]:
        return {"catch_trial": self.trial == "catch", "probe_trial": self.trial == "probe"}

    # -- observation -----------------------------------------------------------------------
    def _measure(self, hx: float, hy: float, vx: float, vy: float) -> None:
        """Push this step's visual and proprioceptive measurements (noise included) into their FIFOs."""
        visual, proprio = self._sensed(hx, hy, vx, vy)
        if self.sensory_noise > 0.0:
            visual = visual + self.sensory_noise * self.np_random.standard_normal(visual.shape)
            proprio = proprio + self.sensory_noise * self.np_random.standard_normal(proprio.shape)
        self._visual.append(visual)
        self._proprio.append(proprio)

    def _sensed(self, hx: float, hy: float, vx: float, vy: float) -> tuple[np.ndarray, np.ndarray]:
        """The noiseless measurements now: seen hand position and velocity; joints and muscle forces."""
        c, s = self._rot_cos, self._rot_sin
        sx, sy = self._start_xy
        hx, hy = hx - sx, hy - sy
        visual = np.array([c * hx - s * hy, s * hx + c * hy, c * vx - s * vy, s * vx + c * vy])
        d = self.data
        proprio = np.concatenate([d.qpos, d.qvel, -d.actuator_force / self.peak_forces])
        return visual, proprio

    def _seen_target(self) -> list[float]:
        c, s = self._rot_cos, self._rot_sin
        tx, ty = self._target[0] - self._start_xy[0], self._target[1] - self._start_xy[1]
        return [c * tx - s * ty, s * tx + c * ty]

    def _delayed_obs(self) -> np.ndarray:
        visual, proprio = self._visual[0], self._proprio[0]
        return np.concatenate([visual[:2], self._seen_target(), visual[2:], proprio, self._cue])

    def _get_obs(self) -> np.ndarray:
        """The observation without delay or noise (what a zero-delay, noiseless env would show now)."""
        visual, proprio = self._sensed(*self._arm_state())
        return np.concatenate([visual[:2], self._seen_target(), visual[2:], proprio, self._cue])
