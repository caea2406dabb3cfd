"""Reference policies that anchor normalised scores: random, zero action, and analytic controllers.

A random reach policy does far worse than doing nothing, so the baseline of a score is the
better of the two (DESIGN.md section 4). The reach reference is a ceiling (DESIGN.md section
3b): :class:`ReachPlanner` optimises each evaluation episode's commands with iLQR on a copy of
the env itself (its model, field, action clipping and reward), warm-started from the analytic
task-space PD controllers, so that no learned policy can beat it by more than the optimiser's
tolerance. The PD with exact field cancellation (:class:`ReachPDController`), the reference
until issue 12, is kept for comparison: with 5 N m motors it saturates on strong fields, and on
counter-clockwise fields of 22 N s/m and more the per-joint clipping breaks its cancellation and
the elbow runs to its limit (returns -12 to -34 where the planner gets about -4).
"""

from __future__ import annotations

import math

import gymnasium
import mujoco
import numpy as np

from agents.evaluation import Evaluation, Policy, evaluate
from envs.contexts import resolve_context
from envs.stand import GRAVITY


def zero_policy(env: gymnasium.Env) -> Policy:
    """Always the zero command: the 'do nothing' baseline."""
    zero = np.zeros(env.action_space.shape, dtype=env.action_space.dtype)
    return lambda obs: zero


def random_policy(env: gymnasium.Env, seed: int = 0) -> Policy:
    """Uniform random commands from a seeded generator (independent of the env's)."""
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    return lambda obs: rng.uniform(low, high).astype(env.action_space.dtype)


class ReachPDController:
    """Task-space PD reaching with exact compensation of the curl field (an oracle).

    It reads the *true* hand and target positions from the env (so visuomotor rotation does
    not affect it) and cancels the field's joint torques: it shows what the task allows,
    not what a learner sees. tau = J^T (kp (x* - x) - kd v) - tau_field, command = tau / gear.
    """

    def __init__(self, env: gymnasium.Env, kp: float = 300.0, kd: float = 30.0) -> None:
        self.env = env.unwrapped
        self.kp, self.kd = kp, kd

    def command(self) -> np.ndarray:
        """The PD command with the field cancelled, before any limit (torque / gear)."""
        return self.torque() / self.env.model.actuator_gear[:, 0]

    def field(self) -> float:
        """The curl field b (N s/m) acting now, which the torques cancel."""
        return self.env.context.curl_field

    def torque(self) -> np.ndarray:
        """The PD's joint torques (N m) with the field cancelled."""
        env = self.env
        q2 = float(env.data.qpos[1])
        qvel = env.data.qvel
        jac = np.zeros((3, env.model.nv))
        mujoco.mj_jacSite(env.model, env.data, jac, None, env.model.site("hand").id)
        jac = jac[:2]
        velocity = jac @ qvel
        force = self.kp * (env.target_position - env.hand_position()) - self.kd * velocity
        tau = jac.T @ force
        l1, l2 = env.link_lengths
        k = self.field() * l1 * l2 * math.sin(q2)
        tau -= np.array([k * qvel[1], -k * qvel[0]])  # cancel the field's torques
        return tau

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.clip(self.command(), -1.0, 1.0).astype(np.float32)


class ReachPlanner:
    """Near-optimal reach reference: each episode's commands optimised by iLQR on a copy of the env.

    An oracle like :class:`ReachPDController` (it reads the true state, so a visuomotor rotation
    does not affect it), but a planner rather than a fixed feedback law. At the first step of an
    episode (``data.time == 0``) it copies the env's MuJoCo state into a planning copy of the env
    (rebuilt from the env's constructor arguments: same context, gear, weights, time step), rolls
    out the candidate controllers (:data:`PLANNER_WARM_STARTS`) there, and improves the best
    one's command sequence by iterative LQR over the whole episode: derivatives by finite
    differences of the env's own physics step (curl field included), the reward's distance and
    command terms differentiated analytically (the distance smoothed by ``smoothing`` m), box
    limits on the commands by freezing saturated ones (as in box-DDP), and a step accepted only if
    it raises the planning copy's *true* return. The plan is then replayed with its LQR feedback
    gains; physics is deterministic, so the executed return is the planned one and is never below
    the best warm start's on any episode. Deterministic: no random numbers anywhere.

    Args:
        env: a reach env; its planning copy is rebuilt from its constructor arguments (changes
            made to its model afterwards are not seen). The horizon is its time limit (50).
        iterations: at most this many LQR steps per episode; it stops earlier once an accepted
            step gains less than ``tolerance`` times the return, or after ``max_failures``
            rejected steps in a row (each one more strongly regularised).
        smoothing: the distance term is differentiated as sqrt(d^2 + smoothing^2).
        fd_step: step of the finite differences of the physics.
        warm_starts: name -> controller factory (called with the planning copy; the controller
            maps an observation to a command), :data:`PLANNER_WARM_STARTS` by default.
    """

    def __init__(self, env: gymnasium.Env, iterations: int = 30, smoothing: float = 0.005,
                 fd_step: float = 1e-5, tolerance: float = 1e-4, max_failures: int = 6,
                 warm_starts: dict | None = None) -> None:
        self.env = env.unwrapped
        self.warm_starts = dict(PLANNER_WARM_STARTS if warm_starts is None else warm_starts)
        spec = getattr(env, "spec", None)
        self.horizon = int(spec.max_episode_steps) if spec is not None and spec.max_episode_steps else 50
        self.iterations, self.smoothing, self.fd_step = iterations, smoothing, fd_step
        self.tolerance, self.max_failures = tolerance, max_failures
        kwargs = {k: v for k, v in self.env._ezpickle_kwargs.items() if k != "render_mode"}
        self.sim = type(self.env)(*self.env._ezpickle_args, **kwargs)
        self._start = mujoco.MjData(self.sim.model)
        self._plan: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._t = 0
        self.planned_return = math.nan
        self.warm_start = ""

    # -- the planning copy ------------------------------------------------------------------
    def _state(self) -> np.ndarray:
        d = self.sim.data
        return np.concatenate([d.qpos, d.qvel])

    def _f(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One control step of the planning copy's physics from state x under command u."""
        d, nq = self.sim.data, self.sim.model.nq
        d.qpos[:], d.qvel[:] = x[:nq], x[nq:]
        self.sim._step_mujoco_simulation((float(u[0]), float(u[1])), self.sim.frame_skip)
        return self._state()

    def _rollout(self, policy) -> tuple[np.ndarray, np.ndarray, float]:
        """States, commands and true return of ``policy(t, x)`` from the episode's start state."""
        mujoco.mj_copyData(self.sim.data, self.sim.model, self._start)
        xs, us, total = [self._state()], [], 0.0
        for t in range(self.horizon):
            u = np.clip(np.asarray(policy(t, xs[-1]), dtype=np.float64), -1.0, 1.0)
            total += float(self.sim.step(u.astype(np.float32))[1])
            us.append(u)
            xs.append(self._state())
        return np.array(xs), np.array(us), total

    def _cost_derivatives(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Gauss-Newton Hessian of distance_weight * |hand - target| in the state."""
        sim, nq = self.sim, self.sim.model.nq
        (l1, l2), (q1, q2) = sim.link_lengths, x[:2]
        s1, c1, s12, c12 = math.sin(q1), math.cos(q1), math.sin(q1 + q2), math.cos(q1 + q2)
        jac = np.array([[-l1 * s1 - l2 * s12, -l2 * s12], [l1 * c1 + l2 * c12, l2 * c12]])
        e = np.array([l1 * c1 + l2 * c12, l1 * s1 + l2 * s12]) - np.array(sim._target)
        r = math.sqrt(float(e @ e) + self.smoothing ** 2)
        grad, hess = np.zeros(len(x)), np.zeros((len(x), len(x)))
        grad[:nq] = sim.distance_weight * jac.T @ e / r
        hess[:nq, :nq] = sim.distance_weight * jac.T @ ((np.eye(2) - np.outer(e, e) / r ** 2) / r) @ jac
        return grad, hess

    def _linearise(self, xs: np.ndarray, us: np.ndarray) -> tuple[list, list]:
        h, a_list, b_list = self.fd_step, [], []
        for x, u, x1 in zip(xs[:-1], us, xs[1:], strict=True):
            a = np.empty((len(x), len(x)))
            for i in range(len(x)):
                dx = x.copy()
                dx[i] += h
                a[:, i] = (self._f(dx, u) - x1) / h
            b = np.empty((len(x), len(u)))
            for i in range(len(u)):
                du = u.copy()
                du[i] += h if u[i] < 1.0 - h else -h
                b[:, i] = (self._f(x, du) - x1) / (du[i] - u[i])
            a_list.append(a)
            b_list.append(b)
        return a_list, b_list

    def _backward(self, xs, us, a_list, b_list, costs, mu: float):
        """Feedforward and feedback terms of the LQR step (controls at their limits frozen)."""
        n, m = xs.shape[1], us.shape[1]
        r2 = 2.0 * self.sim.ctrl_cost_weight
        vx, vxx = np.zeros(n), np.zeros((n, n))
        ks, gains = [None] * len(us), [None] * len(us)
        for t in reversed(range(len(us))):
            gx, hx = costs[t]  # the reward of step t is read after it, at xs[t + 1]
            vx1, vxx1 = vx + gx, vxx + hx
            a, b, u = a_list[t], b_list[t], us[t]
            vb = vxx1 @ b
            qx, qu = a.T @ vx1, b.T @ vx1 + r2 * u
            quu, qux = b.T @ vb + r2 * np.eye(m), vb.T @ a
            inverse = np.linalg.inv(quu + mu * np.eye(m))
            step = -inverse @ qu
            free = ~(((u >= 1.0 - 1e-9) & (step > 0)) | ((u <= -1.0 + 1e-9) & (step < 0)))
            if free.all():
                k, gain = step, -inverse @ qux
            else:
                k, gain = np.zeros(m), np.zeros((m, n))
                if free.any():
                    inverse = np.linalg.inv(quu[np.ix_(free, free)] + mu * np.eye(int(free.sum())))
                    k[free], gain[free] = -inverse @ qu[free], -inverse @ qux[free]
            ks[t], gains[t] = k, gain
            quu_k = quu @ k
            vx = qx + gain.T @ (quu_k + qu) + qux.T @ k
            vxx = a.T @ vxx1 @ a + gain.T @ quu @ gain + gain.T @ qux + qux.T @ gain
            vxx = 0.5 * (vxx + vxx.T)
        return ks, gains

    def plan(self) -> float:
        """Plan the episode from the env's current state; returns the planned return."""
        mujoco.mj_copyData(self._start, self.sim.model, self.env.data)
        self.sim._target = self.env._target
        best = None
        for name, make in self.warm_starts.items():
            controller = make(self.sim)
            xs, us, total = self._rollout(lambda t, x, c=controller: c(None))
            if best is None or total > best[3]:
                best = (name, xs, us, total)
        self.warm_start, xs, us, total = best
        gains = [np.zeros((us.shape[1], xs.shape[1]))] * len(us)
        mu, linear, failures = 1e-3, None, 0
        for _ in range(self.iterations):
            if linear is None:
                linear = (*self._linearise(xs, us), [self._cost_derivatives(x) for x in xs[1:]])
            ks, new_gains = self._backward(xs, us, *linear, mu)
            for alpha in (1.0, 0.5, 0.2, 0.05):
                def policy(t, x, alpha=alpha, xs=xs, us=us, ks=ks, new_gains=new_gains):
                    return us[t] + alpha * ks[t] + new_gains[t] @ (x - xs[t])
                new = self._rollout(policy)
                if new[2] > total:
                    break
            if new[2] > total:  # accepted: relinearise around the new trajectory
                gained = new[2] - total
                (xs, us, total), gains, linear, mu, failures = new, new_gains, None, max(mu / 3.0, 1e-6), 0
                if gained < self.tolerance * abs(total):
                    break
            else:  # rejected: a more cautious step around the same trajectory
                mu, failures = mu * 10.0, failures + 1
                if failures >= self.max_failures:
                    break
        self._plan, self._t, self.planned_return = (xs, us, gains), 0, total
        return total

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        env = self.env
        if env.data.time == 0.0 or self._plan is None or self._t >= len(self._plan[1]):
            self.plan()
        xs, us, gains = self._plan
        x = np.concatenate([env.data.qpos, env.data.qvel])
        u = us[self._t] + gains[self._t] @ (x - xs[self._t])
        self._t += 1
        return np.clip(u, -1.0, 1.0).astype(np.float32)


class ScaledPDController(ReachPDController):
    """The PD of :class:`ReachPDController`, its command scaled down as a whole when a motor saturates.

    Clipping each joint separately changes the direction of the commanded torque and breaks the
    field's cancellation (see the module's docstring); scaling keeps the direction.
    """

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        command = self.command()
        peak = float(np.max(np.abs(command)))
        return (command / peak if peak > 1.0 else command).astype(np.float32)


# warm starts of the planner: the best of them on each episode's start state is improved by iLQR
PLANNER_WARM_STARTS = {"pd": ReachPDController, "pd_scaled": ScaledPDController}


class MusclePDController(ReachPDController):
    """The task-space PD of :class:`ReachPDController` on the muscle arm: its joint torques (field
    cancelled) shared among the six muscles.

    The excitations are the smallest (least squares) non-negative ones whose torques at peak
    isometric force, through the constant moment arms, equal the PD's (an active set: muscles
    that would push are dropped until none does), clipped to 1. It ignores the force-length-velocity
    curves and the activation lag, so it is a provisional reference, not a ceiling: an iLQR
    planner on the muscle arm, as :class:`ReachPlanner` is on the torque arm, is still to come.
    Gains: the best return of kp, kd in (300, 30), (600, 50), (1000, 70), (1500, 90) on the null
    and +-20 N s/m fields (16 episodes each; 1500 was better by at most 1.1 on the fields, worse on null).
    """

    def __init__(self, env: gymnasium.Env, kp: float = 1000.0, kd: float = 70.0) -> None:
        super().__init__(env, kp, kd)
        m = self.env.model
        d = mujoco.MjData(m)  # the env's own data may not have been forwarded yet (before a reset)
        mujoco.mj_forward(m, d)
        moments = np.zeros((m.nu, m.nv))
        for i in range(m.nu):  # MuJoCo keeps the moment arms sparse; fixed tendons: constant
            adr = d.moment_rowadr[i]
            for k in range(d.moment_rownnz[i]):
                moments[i, d.moment_colind[adr + k]] = d.actuator_moment[adr + k]
        # joint torque of full excitation of each muscle (muscle force pulls: negative in MuJoCo)
        self.torque_per_excitation = -(moments * m.actuator_gainprm[:, 2:3]).T

    def field(self) -> float:
        return self.env.context.curl_field if self.env.trial == "field" else 0.0  # none in catch and probe trials

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        tau = self.torque()
        matrix, active = self.torque_per_excitation, np.ones(self.torque_per_excitation.shape[1], dtype=bool)
        excitation = np.zeros(len(active))
        for _ in range(len(active)):
            excitation[:] = 0.0
            excitation[active] = np.linalg.lstsq(matrix[:, active], tau, rcond=None)[0]
            if excitation.min() >= 0.0:
                break
            active &= excitation > 0.0
        return np.clip(excitation, 0.0, 1.0).astype(np.float32)


class StandPDController:
    """Segment-space PD for the standing body, with the gravity of the context it was tuned for
    cancelled (an oracle: it reads the true state, like :class:`ReachPDController`).

    With theta_legs and theta_trunk the segments' angles from the world vertical (rates w):
    ankle torque = -G_ankle + k q_ankle - kp_ankle (theta_legs - lean) - kd_ankle w_legs, hip torque
    = -G_hip - kp_hip (theta_trunk - lean) - kd_hip w_trunk, command = torque / gear clipped to
    [-1, 1]. G is the torque gravity exerts about each joint in the ``context``'s gravity and mass
    (the env's own by default), k q_ankle cancels the passive ankle stiffness. Run on another
    context than its own, it keeps the wrong compensation: how a controller tuned for one context
    fares in another (the contexts' conflict, envs/stand.py).
    """

    def __init__(self, env: gymnasium.Env, kp: tuple[float, float] = (1000.0, 600.0),
                 kd: tuple[float, float] = (300.0, 100.0), lean: float = 0.0, context=None) -> None:
        self.env = env.unwrapped
        self.kp, self.kd, self.lean = kp, kd, float(lean)
        own = self.env.context
        tuned = own if context is None else resolve_context("stand", context)
        m = self.env.model
        tilt = math.radians(tuned.gravity_tilt_deg)
        self.gravity = (GRAVITY * math.sin(tilt), -GRAVITY * math.cos(tilt))
        scale = tuned.mass_scale / own.mass_scale
        self.masses = (float(m.body_mass[m.body("legs").id]) * scale, float(m.body_mass[m.body("trunk").id]) * scale)
        self.stiffness = float(m.jnt_stiffness[m.joint("ankle").id])
        self.gear = m.actuator_gear[:, 0].copy()

    def torque(self) -> np.ndarray:
        """The joint torques (N m) before the motors' limits."""
        env = self.env
        p = env.posture()
        legs, trunk, w_legs, w_trunk = p["legs"], p["trunk"], p["legs_rate"], p["trunk_rate"]
        (gx, gz), (m1, m2) = self.gravity, self.masses
        l1, c1, c2 = env.leg_length, env.com_legs, env.com_trunk
        # torque of a weight m g at (x, z) from a joint, about +y: z m gx - x m gz
        x2, z2 = c2 * math.sin(trunk), c2 * math.cos(trunk)
        hip = m2 * (z2 * gx - x2 * gz)
        ankle = hip + m1 * c1 * (math.cos(legs) * gx - math.sin(legs) * gz) \
            + m2 * l1 * (math.cos(legs) * gx - math.sin(legs) * gz)
        (kpa, kph), (kda, kdh) = self.kp, self.kd
        return np.array([-ankle + self.stiffness * p["ankle"] - kpa * (legs - self.lean) - kda * w_legs,
                         -hip - kph * (trunk - self.lean) - kdh * w_trunk])

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.clip(self.torque() / self.gear, -1.0, 1.0).astype(np.float32)


def baseline_return(env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> tuple[float, dict]:
    """The better mean return of a random and a zero-action policy, and both evaluations."""
    evals: dict[str, Evaluation] = {
        "random": evaluate(random_policy(env, seed), env, n_episodes, seed),
        "zero": evaluate(zero_policy(env), env, n_episodes, seed),
    }
    best = max(e.mean_return for e in evals.values())
    return best, evals


def balance_ceiling(env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> float:
    """The largest attainable balance return: upright at every step of the episode (for stand: exactly
    upright at no effort, a bound no policy reaches under a perturbation)."""
    del n_episodes, seed
    return float(env.spec.max_episode_steps * env.unwrapped.healthy_reward)


def reach_pd_return(env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> float:
    """Mean return of the field-compensating PD controller (the reference until issue 12)."""
    return evaluate(ReachPDController(env), env, n_episodes, seed).mean_return


def muscle_reach_pd_return(env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> float:
    """Mean return of :class:`MusclePDController`, the muscle arm's provisional reference."""
    return evaluate(MusclePDController(env), env, n_episodes, seed).mean_return


def reach_planner_return(env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> float:
    """Mean return of the iLQR planner (:class:`ReachPlanner`) on the same evaluation episodes.

    About 0.1-0.2 s per episode on one core. The return is a deterministic function of the env's
    constructor arguments, time limit, episodes and seed, so it is kept for the life of the process:
    a benchmark worker that runs many runs of the same contexts plans each context once.
    """
    unwrapped, spec = env.unwrapped, getattr(env, "spec", None)
    key = (type(unwrapped).__name__, repr(getattr(unwrapped, "_ezpickle_args", id(unwrapped))),
           repr(sorted(getattr(unwrapped, "_ezpickle_kwargs", {}).items())),
           getattr(spec, "max_episode_steps", None), int(n_episodes), int(seed))
    if key not in _PLANNER_RETURNS:
        _PLANNER_RETURNS[key] = evaluate(ReachPlanner(env), env, n_episodes, seed).mean_return
    return _PLANNER_RETURNS[key]


_PLANNER_RETURNS: dict[tuple, float] = {}


# family -> the outside reference return used to normalise scores (DESIGN.md sections 3b and 4)
REFERENCES = {"reach": reach_planner_return, "muscle_reach": muscle_reach_pd_return, "balance": balance_ceiling,
              "stand": balance_ceiling}  # stand: the same ceiling, full posture reward at no effort on every step


def reference_return(family: str, env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> float:
    """The outside reference return of ``family`` on ``env``'s context (see :data:`REFERENCES`)."""
    if family not in REFERENCES:
        raise ValueError(f"family={family!r} is not allowed: expected one of {sorted(REFERENCES)}")
    return REFERENCES[family](env, n_episodes, seed)


def context_anchors(family, label: str, n_episodes: int = 16, seed: int = 10_000) -> dict[str, float]:
    """The two returns that normalise scores on one context of a task family (``envs.family.
    TaskFamily``): ``base``, the better of a random and a zero-action policy, and ``reference``,
    over the evaluation episodes ``seed, seed + 1, ...`` (the ones the scored policy plays)."""
    env = family.make_env(label)
    try:
        return {"base": baseline_return(env, n_episodes, seed)[0],
                "reference": reference_return(family.family, env, n_episodes, seed)}
    finally:
        env.close()
