"""Reference policies that anchor normalised scores: random, zero action, and analytic controllers.

A random reach policy does far worse than doing nothing, so the baseline of a score is the
better of the two (DESIGN.md section 4). The analytic reach controller, a task-space PD
with exact cancellation of the curl field, is an outside reference that learned policies
should match or beat.
"""

from __future__ import annotations

import math

import gymnasium
import mujoco
import numpy as np

from agents.evaluation import Evaluation, Policy, evaluate


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

    def __call__(self, obs: np.ndarray) -> np.ndarray:
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
        k = env.context.curl_field * l1 * l2 * math.sin(q2)
        tau -= np.array([k * qvel[1], -k * qvel[0]])  # cancel the field's torques
        gear = env.model.actuator_gear[:, 0]
        return np.clip(tau / gear, -1.0, 1.0).astype(np.float32)


def baseline_return(env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> tuple[float, dict]:
    """The better mean return of a random and a zero-action policy, and both evaluations."""
    evals: dict[str, Evaluation] = {
        "random": evaluate(random_policy(env, seed), env, n_episodes, seed),
        "zero": evaluate(zero_policy(env), env, n_episodes, seed),
    }
    best = max(e.mean_return for e in evals.values())
    return best, evals


def balance_ceiling(env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> float:
    """The largest attainable balance return: upright at every step of the episode."""
    del n_episodes, seed
    return float(env.spec.max_episode_steps * env.unwrapped.healthy_reward)


def reach_pd_return(env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> float:
    """Mean return of the field-compensating PD controller on the same evaluation episodes."""
    return evaluate(ReachPDController(env), env, n_episodes, seed).mean_return


# family -> the outside reference return used to normalise scores (DESIGN.md section 4)
REFERENCES = {"reach": reach_pd_return, "balance": balance_ceiling}


def reference_return(family: str, env: gymnasium.Env, n_episodes: int = 16, seed: int = 10_000) -> float:
    """The outside reference return of ``family`` on ``env``'s context (see :data:`REFERENCES`)."""
    if family not in REFERENCES:
        raise ValueError(f"family={family!r} is not allowed: expected one of {sorted(REFERENCES)}")
    return REFERENCES[family](env, n_episodes, seed)
