"""Postural balance: an inverted pole on a cart under tilted gravity, changed mass or rail friction."""

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
from envs.contexts import BalanceContext, resolve_context

ASSET = Path(__file__).parent / "assets" / "balance.xml"

DEFAULT_CAMERA_CONFIG = {"trackbodyid": -1, "distance": 3.0, "elevation": 0.0, "azimuth": 90.0,
                         "lookat": np.array([0.0, 0.0, 0.3])}

GRAVITY = 9.81


class BalanceEnv(MujocoEnv, utils.EzPickle):
    r"""Keep a pole upright on a cart, the cart-pole member of the balance family.

    ## Description
    A 0.6 m pole is hinged on a cart that slides on a 2 m rail with friction; a motor pushes
    the cart. The agent must keep the pole within ``max_pole_angle`` of the world vertical.
    Its *context* changes the body's dynamics, the continual analogue of standing on a
    tilted, loaded or slippery floor:

    - ``gravity_tilt_deg``: gravity tilted sideways in the plane of motion (left < 0 < right):
      the upright pole is no longer an equilibrium, and the cart must lean the other way;
    - ``mass_scale``: the pole's mass and inertia scaled;
    - ``friction_scale``: the rail's Coulomb friction loss and viscous damping scaled.

    All three are written into the MuJoCo model at construction (``opt.gravity``,
    ``body_mass``/``body_inertia``, ``dof_frictionloss``/``dof_damping``), so the physics
    step runs entirely in MuJoCo.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: the cart motor command (gear ``gear`` N).

    ## Observation Space
    ``Box(-inf, inf, (4 + n_contexts * context_cue,), float64)``: cart position (m), pole
    angle from vertical (rad), cart velocity (m/s), pole angular velocity (rad/s), then a
    one-hot of ``context_id`` when ``context_cue``.

    ## Rewards
    ``healthy_reward`` (1.0) for every step the pole is upright, 0 otherwise, minus
    ``ctrl_cost_weight * a^2``: bounded in [-ctrl_cost_weight, healthy_reward].
    ``info`` holds ``reward_alive`` and ``reward_ctrl``.

    ## Starting State
    Cart at the centre, pole upright, uniform noise of ``reset_noise_scale`` on positions
    and velocities.

    ## Episode End
    Terminates when |pole angle| > ``max_pole_angle`` or the state is not finite; registered
    ids truncate after 250 steps (5 s). ``info["is_success"]`` is True while the pole has
    stayed upright the whole episode, so at the last step it says whether the episode was.

    ## Info
    ``reward_alive``, ``reward_ctrl``, ``pole_angle``, ``is_success``, ``context_id``.

    ## Arguments
    - ``context``: a preset name of :data:`envs.contexts.BALANCE_CONTEXTS`, a dict of
      :class:`envs.contexts.BalanceContext` fields, or an instance (default ``"null"``).
    - ``context_id`` / ``n_contexts`` / ``context_cue`` / ``cue_shown``: as in :class:`envs.reach.ReachEnv`.
    - ``healthy_reward`` (1.0), ``ctrl_cost_weight`` (0.0), ``max_pole_angle`` (0.4 rad).
    - ``reset_noise_scale`` (0.01), ``gear`` (20.0 N per unit command), ``frame_skip`` (2).
    - ``render_mode``, ``width``, ``height``, ``camera_name``: as in gymnasium's MuJoCo envs.
    """

    metadata = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}

    def __init__(
        self,
        context: str | Mapping[str, Any] | BalanceContext | None = "null",
        context_id: int = 0,
        n_contexts: int = 1,
        context_cue: bool = False,
        cue_shown: bool = True,
        healthy_reward: float = 1.0,
        ctrl_cost_weight: float = 0.0,
        max_pole_angle: float = 0.4,
        reset_noise_scale: float = 0.01,
        gear: float = 20.0,
        frame_skip: int = 2,
        **kwargs: Any,
    ) -> None:
        utils.EzPickle.__init__(
            self, context, context_id, n_contexts, context_cue, cue_shown, healthy_reward, ctrl_cost_weight,
            max_pole_angle, reset_noise_scale, gear, frame_skip, **kwargs,
        )
        self.context = resolve_context("balance", context)
        check_cue(context_id, n_contexts)
        check_flag(cue_shown=cue_shown, context_cue=context_cue)
        check_positive(healthy_reward=healthy_reward, max_pole_angle=max_pole_angle, gear=gear,
                       frame_skip=frame_skip)
        check_non_negative(ctrl_cost_weight=ctrl_cost_weight, reset_noise_scale=reset_noise_scale)
        if max_pole_angle >= math.pi / 2:
            raise ValueError(f"max_pole_angle={max_pole_angle!r} is not allowed: expected a float in (0, pi/2)")
        self.context_id, self.n_contexts, self.context_cue = int(context_id), int(n_contexts), bool(context_cue)
        self.healthy_reward, self.ctrl_cost_weight = float(healthy_reward), float(ctrl_cost_weight)
        self.max_pole_angle, self.reset_noise_scale = float(max_pole_angle), float(reset_noise_scale)

        obs_dim = 4 + (self.n_contexts if self.context_cue else 0)
        observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float64)
        kwargs.setdefault("default_camera_config", DEFAULT_CAMERA_CONFIG)
        MujocoEnv.__init__(self, str(ASSET), int(frame_skip), observation_space=observation_space, **kwargs)
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}
        self._apply_context(float(gear))
        self._cue = np.zeros(self.n_contexts if self.context_cue else 0)
        self.cue_shown = bool(cue_shown)
        if self.context_cue and self.cue_shown:  # an unannounced context: the cue's slots stay zero
            self._cue[self.context_id] = 1.0
        self._cue_list = self._cue.tolist()
        self._upright_so_far = True

    def _apply_context(self, gear: float) -> None:
        """Write the context's gravity, pole mass and rail friction into the MuJoCo model."""
        m, ctx = self.model, self.context
        tilt = math.radians(ctx.gravity_tilt_deg)
        m.opt.gravity[:] = (GRAVITY * math.sin(tilt), 0.0, -GRAVITY * math.cos(tilt))
        pole = m.body("pole").id
        m.body_mass[pole] *= ctx.mass_scale
        m.body_inertia[pole] *= ctx.mass_scale
        slider = m.joint("slider").dofadr[0]
        m.dof_frictionloss[slider] *= ctx.friction_scale
        m.dof_damping[slider] *= ctx.friction_scale
        m.actuator_gear[:, 0] = gear
        mujoco.mj_setConst(m, self.data)

    def _step_mujoco_simulation(self, ctrl, n_frames) -> None:
        self.data.ctrl[:] = ctrl
        mujoco.mj_step(self.model, self.data, nstep=n_frames)

    def do_simulation(self, ctrl, n_frames) -> None:
        # gymnasium's version adds a shape check and mj_rnePostConstraint, which this
        # task never reads.
        self._step_mujoco_simulation(ctrl, n_frames)

    def step(self, action):
        (a,) = action.tolist() if isinstance(action, np.ndarray) else [float(x) for x in action]
        a = -1.0 if a < -1.0 else 1.0 if a > 1.0 else a  # clip on a float: np.clip costs a physics step
        self.data.ctrl[0] = a
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        qpos, qvel = self.data.qpos.tolist(), self.data.qvel.tolist()
        angle = qpos[1]
        upright = all(map(math.isfinite, qpos + qvel)) and abs(angle) <= self.max_pole_angle
        self._upright_so_far = self._upright_so_far and upright
        reward_alive = self.healthy_reward if upright else 0.0
        reward_ctrl = -self.ctrl_cost_weight * a * a
        info = {
            "reward_alive": reward_alive,
            "reward_ctrl": reward_ctrl,
            "pole_angle": angle,
            "is_success": self._upright_so_far,
            "context_id": self.context_id,
        }
        if self.render_mode == "human":
            self.render()
        return np.array(qpos + qvel + self._cue_list), reward_alive + reward_ctrl, not upright, False, info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}: BalanceEnv takes none")
        return super().reset(seed=seed)

    def reset_model(self) -> np.ndarray:
        noise = self.reset_noise_scale
        qpos = self.init_qpos + self.np_random.uniform(-noise, noise, size=self.model.nq)
        qvel = self.init_qvel + self.np_random.uniform(-noise, noise, size=self.model.nv)
        self.set_state(qpos, qvel)
        self._upright_so_far = True
        return self._get_obs()

    def _get_reset_info(self) -> dict[str, Any]:
        return {"context_id": self.context_id, "pole_angle": float(self.data.qpos[1])}

    def _get_obs(self) -> np.ndarray:
        return np.array(self.data.qpos.tolist() + self.data.qvel.tolist() + self._cue_list)
