"""Who acts in wake: the cortex alone, or the consolidated subcortical command with a cortical correction.

The controller decides how sleep reaches behaviour (the ``controller`` config option):

- :class:`CortexController` (``controller=cortex``, the default): the cortex acts in wake and in
  the tests; the student is scored on its own and never acts, so sleep never changes behaviour.
- :class:`ResidualController` (``controller=residual``): feedback-error learning (Kawato, Furukawa
  and Suzuki 1987; Kawato 1990). The action is the subcortical *base* command plus a cortical
  correction, ``clip(base(s) + scale * cortex(s))``: the cortex learns, by PPO, what the consolidated
  command still gets wrong. A sleep distils the whole behaviour (base + correction) into the
  student and then writes back: the student becomes the new base and the cortex's correction is
  reset to zero (its action head, not its features or its critic), so what the agent does is
  carried by the subcortical store from then on. A learned movement moves from cortex to
  subcortex, and later learning (B) is a correction on top of it.

  Why this design can show, or fail to show, the human patterns: after B, the retest of A is the
  base that sleep made plus whatever correction B left on A's states. If the correction B needs
  does not spread to A's states (a context it can tell apart, or feedback that differs between the
  fields), A survives in proportion to what was consolidated before B, so protection grows with
  the sleeps between A and B; if it spreads, the retest fails whatever the gap (Caithness et al.
  2004's negative result). The fading memory (``memory=shared``) decides whether a late sleep can
  still consolidate A.

``R['cortical']`` is always the *wake controller's* behaviour: the cortex under ``cortex``, the
base plus the correction under ``residual``. ``R['subcortical']`` is the student alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnvWrapper

from agents.familiarity import Familiarity
from agents.subcortical import SubcorticalPolicy


class CortexController:
    """The cortex acts; the student is a passive store scored on its own (``controller=cortex``)."""

    name = "cortex"
    #: the wake depends on nothing but the cortex and the env: the phase cache may share it
    plain = True
    #: whether a sleep may change the cortex (the residual controller's write-back)
    writes_back = False

    @dataclass
    class Schema:
        """No settings."""

    def start(self, student: SubcorticalPolicy, low: np.ndarray, high: np.ndarray) -> None:
        """Called once the student exists (a fresh agent, or one restored from a checkpoint)."""

    def wake_env(self, venv):
        """The env the cortex learns on."""
        return venv

    def policy(self, learner):
        """The wake controller's deterministic action, for the tests."""
        return learner.act

    def teacher(self, learner):
        """What sleep distils (``action_distribution``; ``td_errors`` for recomputed tags)."""
        return learner

    def after_sleep(self, learner, student: SubcorticalPolicy, memory=None, replayed: list[int] = ()) -> dict[str, Any]:
        """After a sleep (or an awake control's slot) that replayed the ``replayed`` tasks of
        ``memory``: the write-back, if any; what it did."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class ResidualController(CortexController):
    """The subcortical base command plus a cortical correction; sleep transfers the sum into the
    base and resets the correction (``controller=residual``; PPO only)."""

    name = "residual"
    plain = False  # the wake depends on the base the sleeps made
    writes_back = True

    @dataclass
    class Schema:
        """:param correction_scale: the cortex's action (in [-1, 1], PPO's box) times this is the
            correction. 1 (the default, and all that runs made before the option had) caps a
            correction at half the box's width; configs/controller/residual.yaml sets 2, the
            width, so that a correction can carry any command to any other (opposite fields need
            opposite commands: with 1, B was learned far more slowly on a base that held A)."""

        correction_scale: float = 1.0

    def __init__(self, correction_scale: float = 1.0) -> None:
        if not (isinstance(correction_scale, int | float) and 0 < correction_scale < float("inf")):
            raise ValueError(f"controller.correction_scale={correction_scale!r} is not allowed: expected a float > 0")
        self.scale = float(correction_scale)

    def start(self, student: SubcorticalPolicy, low: np.ndarray, high: np.ndarray) -> None:
        self.low, self.high = np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32)
        if not hasattr(self, "base"):
            self.base = _frozen(student)

    def command(self, obs: np.ndarray) -> np.ndarray:
        """The base's deterministic command at ``obs``."""
        return self.base.act(obs)

    def gate(self, obs: np.ndarray) -> np.ndarray | float:
        """How much of the cortex's correction passes at ``obs``: all of it (arbitration overrides)."""
        return 1.0

    def compose(self, obs: np.ndarray, correction: np.ndarray) -> np.ndarray:
        """The action: the base's command plus the scaled, gated correction, clipped to the box
        (``scale * 1.0`` is ``scale`` exactly, so the residual rule's numbers are unchanged)."""
        gate = self.gate(obs)
        gate = gate[:, None] if np.ndim(gate) else gate
        return np.clip(self.command(obs) + self.scale * gate * correction, self.low, self.high)

    def wake_env(self, venv):
        return BaseCommandEnv(venv, self)

    def policy(self, learner):
        def act(obs: np.ndarray) -> np.ndarray:
            return self.compose(obs, learner.act(obs))
        return act

    def teacher(self, learner):
        return _Behaviour(self, learner)

    def after_sleep(self, learner, student: SubcorticalPolicy, memory=None, replayed: list[int] = ()) -> dict[str, Any]:
        """If the student changed since it became the base, it becomes the base and the cortex's
        correction is reset to zero (its action head and that head's optimizer moments)."""
        if all(torch.equal(a, b) for a, b in zip(self.base.state_dict().values(), student.state_dict().values(),
                                                   strict=True)):
            return {"write_back": False}
        self.base = _frozen(student)
        head = _action_head(learner.model.policy)
        with torch.no_grad():
            head.weight.zero_()
            head.bias.zero_()
        for optimizer in learner.optimizers():
            for parameter in (head.weight, head.bias):
                optimizer.state.pop(parameter, None)
        return {"write_back": True}

    def state_dict(self) -> dict[str, Any]:
        return {"base_spec": self.base.spec(), "base": self.base.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.base = SubcorticalPolicy(**state["base_spec"])
            self.base.load_state_dict(state["base"])
            self.base.requires_grad_(False)


class ArbitratedController(ResidualController):
    """The residual controller with arbitration: the correction is gated by the student's
    uncertainty, so the consolidated command acts alone where the student is certain
    (``controller=arbitrated``; PPO only).

    ``action = clip(base(s) + scale * (1 - familiarity(s)) * cortex(s))``, where familiarity
    (agents/familiarity.py) is the closeness of ``s``, context cue included, to the states the last
    sleep distilled the student on. Uncertainty-based arbitration between a habitual and a
    goal-directed controller (Daw, Niv and Dayan 2005), with the student's certainty read as
    where it was trained. Before the first sleep nothing is familiar and the rule is the residual
    one; after a sleep, a correction learned later (B) acts only where the student is unsure.

    Why this design can show, or fail to show, the human patterns: the retest of A after B is the
    base alone on A's states if they are familiar, so A survives B once a sleep consolidated it
    (k >= 1), and not before (k = 0: no reference, the residual rule, the cortex overwritten). The
    pattern needs B's states to be unfamiliar: with the cue given they are (the cue differs); with
    the cue hidden, B's early states are A's, the correction is gated off there, and B may be
    learned slowly or not at all (anterograde interference), which the floor check would show.
    """

    name = "arbitrated"

    @dataclass
    class Schema:
        """:param correction_scale: as for the residual controller.
        :param reference_size: at most this many consolidated states are kept as the reference.
        :param width: a state this many reference spacings from the nearest consolidated state
            has familiarity exp(-1) (agents/familiarity.py).
        :param min_std: the scale of a dimension that never varied in the reference (the cue)."""

        correction_scale: float = 2.0
        reference_size: int = 4096
        width: float = 2.0
        min_std: float = 1e-2

    def __init__(self, correction_scale: float = 2.0, reference_size: int = 4096, width: float = 2.0,
                 min_std: float = 1e-2) -> None:
        super().__init__(correction_scale)
        self.familiarity = Familiarity(reference_size, width, min_std)
        self.fits = 0  # write-backs so far: seeds each reference subsample

    def gate(self, obs: np.ndarray) -> np.ndarray:
        """How much of the cortex's correction passes at each row of ``obs``: 1 - familiarity."""
        return 1.0 - self.familiarity(obs)

    def after_sleep(self, learner, student: SubcorticalPolicy, memory=None, replayed: list[int] = ()) -> dict[str, Any]:
        """The residual write-back; the states of the replayed tasks become the reference."""
        written = super().after_sleep(learner, student, memory, replayed)
        if written["write_back"]:
            if memory is None or not replayed:
                raise ValueError("the arbitrated controller's write-back needs the memory the sleep replayed")
            self.familiarity.fit(memory.arrays(list(replayed))["obs"], np.random.default_rng(self.fits))
            self.fits += 1
            written["familiar_reference"] = len(self.familiarity.reference)
        return written

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "fits": self.fits, "familiarity": self.familiarity.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if state:
            self.fits = int(state["fits"])
            self.familiarity.load_state_dict(state["familiarity"])


class BaseCommandEnv(VecEnvWrapper):
    """The env as the cortex sees it under the residual controller: its action is a correction,
    added to the base's command at the same observation, then clipped to the action box."""

    def __init__(self, venv, controller: ResidualController) -> None:
        super().__init__(venv)
        self.controller, self.last_obs = controller, None

    def reset(self):
        self.last_obs = self.venv.reset()
        return self.last_obs

    def step_async(self, actions: np.ndarray) -> None:
        self.venv.step_async(self.controller.compose(np.asarray(self.last_obs, dtype=np.float32), actions))

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self.last_obs = obs
        return obs, rewards, dones, infos


class _Behaviour:
    """The residual agent's action distribution, for sleep to distil: the cortex's Gaussian scaled
    by the correction scale and shifted by the base's command (mean clipped to the box, as the
    executed action is). Its spread is the scaled cortex's, also under arbitration, where the
    executed spread shrinks with the gate: the student's spread is exploration, not part of the
    consolidated command the tests score, and a gate near zero would make the distillation's KL
    diverge."""

    def __init__(self, controller: ResidualController, learner) -> None:
        self.controller, self.learner = controller, learner

    def action_distribution(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, log_std = self.learner.action_distribution(obs)
        shifted = self.controller.compose(np.asarray(obs, dtype=np.float32), mean)
        return shifted.astype(np.float32), (log_std + np.log(self.controller.scale)).astype(np.float32)

    def td_errors(self, *args, **kwargs) -> np.ndarray:
        return self.learner.td_errors(*args, **kwargs)


def _frozen(student: SubcorticalPolicy) -> SubcorticalPolicy:
    base = copy.deepcopy(student)
    base.requires_grad_(False)
    return base


def _action_head(policy) -> torch.nn.Linear:
    """The Linear layer that outputs PPO's Gaussian mean (inside the tanh bound when there is one)."""
    head = policy.action_net
    return head[0] if isinstance(head, torch.nn.Sequential) else head


#: The controllers: the ``controller`` config options (configs/controller/).
CONTROLLERS = {"cortex": CortexController, "residual": ResidualController, "arbitrated": ArbitratedController}
