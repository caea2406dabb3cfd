"""The offline sleep phase: replay memories and distil the cortical policy into the subcortical one.

Sleep takes no environment step. It (1) refreshes the hippocampal trace of the task just
learned with the cortex's final action distribution, (2) replays memories of that task and,
when ``interleave``, of earlier ones, sampled by neuromodulatory priority, (3) distils the
teacher's distributions into the student with each sample's plasticity scaled by its
dopamine/acetylcholine-like gain, and (4) optionally downscales the student's synapses
(Hill, Tononi and Ghilardi 2008). Earlier tasks keep the targets stored at their own sleep:
the cortex has moved on since, and that trace is all that is left of them.

With ``target="taken_actions"`` (the ``scratch_student`` ablation) there is no teacher: step
(1) is skipped and the student clones the actions the agent executed in wake.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.guards import DivergenceError
from agents.subcortical import SubcorticalPolicy, gaussian_kl
from consolidation.memory import EpisodicMemory
from consolidation.neuromodulation import Neuromodulator

LOSSES = ("kl", "mse")  # with the teacher's distributions as targets
TAKEN_ACTION_LOSSES = ("nll", "mse")  # with the executed actions as targets
TARGETS = ("teacher", "taken_actions")
_SQUASH_EPSILON = 1e-6  # keeps atanh of a squashed action finite
_DRAW_SAMPLES = 1 << 16  # replay indices drawn per call of the generator (see Sleep.run)


@dataclass
class SleepReport:
    """What one sleep did: losses, gating, held-out fidelity, cost."""

    updates: int
    replayed_tasks: list[int]
    final_loss: float
    heldout_kl: dict[int, float]
    gating: dict[str, float]
    seconds: float
    env_steps: int = 0
    loss_curve: list[float] = field(default_factory=list)
    gain_curve: list[float] = field(default_factory=list)


class Sleep:
    """Replay + gated distillation (+ downscaling): the ``consolidation`` config option.

    Args:
        updates: gradient updates of the student per sleep phase.
        batch_size: replayed memories per update.
        learning_rate: the student's Adam learning rate before gating.
        loss: with the teacher: ``kl`` (KL(teacher || student) of the Gaussians) or ``mse`` (on
            the means); with taken actions: ``nll`` (negative log-likelihood of the action under
            the student's Gaussian) or ``mse`` (of the student's deterministic action).
        interleave: also replay earlier tasks' memories (else the current task only).
        gating: keyword arguments of :class:`consolidation.neuromodulation.Neuromodulator`
            (``mode``: on, off or shuffled; weights; gain bounds; priority exponent).
        downscaling: factor on the student's weights after replay (1.0 = off).
        holdout_fraction: share of each task's memories kept out of replay to measure fidelity.
        max_loss: a loss above this (or not finite) stops sleep with :class:`DivergenceError`.
        log_every: updates between logged points of the loss and gain curves.
        target: ``teacher`` (distil the cortex, relabelling the task just learned) or
            ``taken_actions`` (behaviour cloning of the memories' executed actions; the teacher
            is never called, and the held-out KL is to the stored behaviour distributions).
    """

    def __init__(self, updates: int = 2000, batch_size: int = 256, learning_rate: float = 1e-3,
                 loss: str = "kl", interleave: bool = True, gating: dict[str, Any] | None = None,
                 downscaling: float = 1.0, holdout_fraction: float = 0.1, max_loss: float = 1e6,
                 log_every: int = 50, target: str = "teacher") -> None:
        if target not in TARGETS:
            raise ValueError(f"consolidation.target={target!r} is not allowed: expected one of {list(TARGETS)}")
        losses = LOSSES if target == "teacher" else TAKEN_ACTION_LOSSES
        if loss not in losses:
            raise ValueError(f"consolidation.loss={loss!r} is not allowed: expected one of {list(losses)}")
        for name, value in (("updates", updates), ("batch_size", batch_size), ("log_every", log_every)):
            if int(value) < 1:
                raise ValueError(f"consolidation.{name}={value!r} is not allowed: expected an integer >= 1")
        if not (math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"consolidation.learning_rate={learning_rate!r} is not allowed: expected a float > 0")
        if not 0.0 < downscaling <= 1.0:
            raise ValueError(f"consolidation.downscaling={downscaling!r} is not allowed: expected a float in (0, 1]")
        if not 0.0 <= holdout_fraction < 1.0:
            raise ValueError(f"consolidation.holdout_fraction={holdout_fraction!r} is not allowed: "
                             "expected a float in [0, 1)")
        self.updates, self.batch_size, self.learning_rate = int(updates), int(batch_size), float(learning_rate)
        self.loss, self.interleave, self.downscaling = loss, bool(interleave), float(downscaling)
        self.target = target
        self.gating = dict(gating or {})
        Neuromodulator(**self.gating)  # validate now, before any training
        self.holdout_fraction, self.max_loss, self.log_every = float(holdout_fraction), float(max_loss), int(log_every)

    def with_updates(self, updates: int) -> Sleep:
        """The same sleep with another number of updates (a protocol phase may set its own)."""
        if int(updates) < 1:
            raise ValueError(f"updates={updates!r} is not allowed: expected an integer >= 1")
        clone = copy.copy(self)
        clone.updates = int(updates)
        return clone

    def run(self, student: SubcorticalPolicy, memory: EpisodicMemory, task: int, teacher, seed: int,
            logger=None, extra_loss: Callable[[SubcorticalPolicy], torch.Tensor] | None = None) -> SleepReport:
        """One night: refresh ``task``'s trace from ``teacher``, replay, distil into ``student``.

        ``extra_loss`` (a strategy's extension point, e.g. a penalty on the student's own weights)
        is called with the student at every update; its scalar is added to the gated distillation
        loss, unscaled by the gains, and counts towards ``max_loss``. None leaves the loop as is.
        """
        start = time.perf_counter()
        if self.target == "teacher":
            current = memory.arrays([task])
            memory.relabel(task, *teacher.action_distribution(current["obs"]))
        tasks = memory.tasks if self.interleave else [task]
        data = memory.arrays(tasks)
        fields = ["obs", "action_mean", "action_log_std"]
        if self.target == "taken_actions":
            fields.append("action")
            missing = sorted({int(t) for t in data["task"][np.isnan(data["action"]).any(axis=1)]})
            if missing:
                raise ValueError(f"consolidation.target='taken_actions' needs the executed actions, but memories of "
                                 f"tasks {missing} were stored without them")
        rng = np.random.default_rng(seed)
        train, heldout = _split(data["task"], self.holdout_fraction, rng)
        modulator = Neuromodulator(**{**self.gating, "seed": seed})
        gains = modulator.gains(data["td_error"][train], data["novelty"][train])
        probabilities = modulator.priorities(gains)

        tensors = {k: torch.as_tensor(data[k]) for k in fields}
        gains_t = torch.as_tensor(gains, dtype=torch.float32)
        optimizer = torch.optim.Adam(student.parameters(), lr=self.learning_rate)
        train_t = torch.as_tensor(train)
        report = SleepReport(self.updates, [int(t) for t in tasks], math.nan, {}, {}, 0.0)
        # Replay indices are drawn in blocks of updates: Generator.choice with p costs O(len(p))
        # per call, and a (block, batch) draw consumes the generator exactly as `block` draws of
        # `batch` do (one uniform per sample, in order), so the batches are the same.
        block = max(1, _DRAW_SAMPLES // self.batch_size)
        for update in range(self.updates):
            if update % block == 0:
                size = (min(block, self.updates - update), self.batch_size)
                picks = torch.as_tensor(rng.choice(len(train), size=size, p=probabilities))
            picked = picks[update % block]
            index = train_t[picked]
            per_sample = self._loss(student, tensors, index)
            loss = (gains_t[picked] * per_sample).mean()
            if extra_loss is not None:
                loss = loss + extra_loss(student)
            value = float(loss.detach())
            if not math.isfinite(value) or value > self.max_loss:
                raise DivergenceError(f"sleep diverged at update {update}: loss={value!r} "
                                      f"(limit {self.max_loss}); lower consolidation.learning_rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if update % self.log_every == 0 or update == self.updates - 1:
                batch_gain = float(gains[picked.numpy()].mean())
                report.loss_curve.append(value)
                report.gain_curve.append(batch_gain)
                if logger is not None:
                    logger.record("sleep/loss", value)
                    logger.record("sleep/batch_gain", batch_gain)
                    logger.dump(update)
            report.final_loss = value
        if self.downscaling < 1.0:
            _downscale(student, self.downscaling)
        report.heldout_kl = self._heldout_kl(student, tensors, data["task"], heldout if len(heldout) else train)
        report.gating = modulator.summary(gains, data["td_error"][train], data["novelty"][train])
        report.seconds = time.perf_counter() - start
        return report

    def _loss(self, student: SubcorticalPolicy, tensors: dict[str, torch.Tensor], index: torch.Tensor):
        mean, log_std = student(tensors["obs"][index])
        if self.target == "taken_actions":
            return taken_action_loss(student, mean, log_std, tensors["action"][index], self.loss)
        return distillation_loss(mean, log_std, tensors["action_mean"][index], tensors["action_log_std"][index],
                                 self.loss)

    @torch.no_grad()
    def _heldout_kl(self, student, tensors, task_ids: np.ndarray, rows: np.ndarray) -> dict[int, float]:
        """KL(teacher || student) per task on memories never replayed."""
        result = {}
        for task in np.unique(task_ids[rows]):
            index = torch.as_tensor(rows[task_ids[rows] == task])
            mean, log_std = student(tensors["obs"][index])
            kl = gaussian_kl(tensors["action_mean"][index], tensors["action_log_std"][index], mean, log_std)
            result[int(task)] = float(kl.mean())
        return result


def taken_action_loss(student: SubcorticalPolicy, mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor,
                      loss: str) -> torch.Tensor:
    """Per-sample behaviour-cloning loss of the student (``mean``, ``log_std``) on executed actions.

    ``nll``: -log N(action; mean, std), summed over action dimensions. Its expectation over
    actions drawn from the behaviour policy is H(behaviour) + KL(behaviour || student): the
    teacher's KL estimated from one sampled action per state instead of the distribution. For
    a squashing (SAC) student the Gaussian is the pre-squash one, so the action is mapped back
    by atanh (the tanh Jacobian does not depend on the student). An action clipped to the box
    counts as the bound itself. ``mse``: squared error of the student's deterministic action
    (its mean, or tanh of it when squashing) to the executed action.
    """
    if loss == "mse":
        return (((mean.tanh() if student.squash else mean) - action) ** 2).sum(-1)
    if student.squash:
        action = torch.atanh(action.clamp(-1.0 + _SQUASH_EPSILON, 1.0 - _SQUASH_EPSILON))
    return (log_std + 0.5 * ((action - mean) / log_std.exp()) ** 2 + 0.5 * math.log(2 * math.pi)).sum(-1)


def distillation_loss(mean: torch.Tensor, log_std: torch.Tensor, teacher_mean: torch.Tensor,
                      teacher_log_std: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-sample distance of the student's Gaussian to the teacher's: ``kl`` is
    KL(teacher || student), ``mse`` the squared distance of the means (summed over actions)."""
    if loss == "mse":
        return ((mean - teacher_mean) ** 2).sum(-1)
    return gaussian_kl(teacher_mean, teacher_log_std, mean, log_std)


def _split(task_ids: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices for replay and for held-out evaluation, stratified by task."""
    train, heldout = [], []
    for task in np.unique(task_ids):
        rows = np.flatnonzero(task_ids == task)
        rows = rows[rng.permutation(len(rows))]
        n_out = int(len(rows) * fraction)
        heldout.append(rows[:n_out])
        train.append(rows[n_out:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(heldout))


@torch.no_grad()
def _downscale(student: SubcorticalPolicy, factor: float) -> None:
    """Synaptic downscaling: scale every weight matrix (not biases or log-std) by ``factor``."""
    for name, parameter in student.named_parameters():
        if name.endswith("weight"):
            parameter.mul_(factor)
