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

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.guards import DivergenceError
from agents.subcortical import SubcorticalPolicy, gaussian_kl
from consolidation.checks import check_number
from consolidation.memory import EpisodicMemory
from consolidation.neuromodulation import GatingSettings, Neuromodulator

LOSSES = ("kl", "mse")  # with the teacher's distributions as targets
TAKEN_ACTION_LOSSES = ("nll", "mse")  # with the executed actions as targets
TARGETS = ("teacher", "taken_actions")
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
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


@dataclass
class StudentTraining:
    """How the student is trained in one phase, by sleep or by the awake control that matches it.

    The one place these settings and their defaults are written: the config schemas, the
    strategies and their YAML options all extend it. A protocol's sleep phase may set its own
    ``updates``; the experiment passes every phase's count to the strategy's ``sleep``.

    :param updates: gradient updates of the student per phase, unless the protocol phase sets its own.
    :param batch_size: samples per update.
    :param learning_rate: the student's learning rate (its optimiser's base step size).
    :param optimizer: :data:`OPTIMIZERS`: ``adam``, or ``sgd`` (plain gradient descent, under which a
        per-sample loss weight is a per-sample learning rate).
    :param loss: the per-sample loss; its allowed values depend on the target (:data:`LOSSES` with
        the teacher's distributions, :data:`TAKEN_ACTION_LOSSES` with executed actions).
    :param max_loss: a loss above this (or not finite) stops the phase with :class:`DivergenceError`.
    :param log_every: updates between logged points of the loss and gain curves.
    """

    updates: int = 2000
    batch_size: int = 256
    learning_rate: float = 1e-3
    loss: str = "kl"
    optimizer: str = "adam"
    max_loss: float = 1e6
    log_every: int = 50

    def __post_init__(self) -> None:
        for name in ("updates", "batch_size", "log_every"):
            check_number(name, getattr(self, name), 1, integer=True)
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"consolidation.learning_rate={self.learning_rate!r} is not allowed: "
                             "expected a float > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"consolidation.optimizer={self.optimizer!r} is not allowed: expected one of "
                             f"{sorted(OPTIMIZERS)}")

    def make_optimizer(self, parameters) -> torch.optim.Optimizer:
        """The student's optimiser over ``parameters``, at the base learning rate."""
        return OPTIMIZERS[self.optimizer](parameters, lr=self.learning_rate)


@dataclass
class SleepSettings(StudentTraining):
    """A night of replay and distillation: the student's training plus what is replayed and how.

    :param interleave: also replay earlier tasks' memories (else the task just learned only).
    :param gating: :class:`consolidation.neuromodulation.GatingSettings` (a mapping of its
        fields is merged onto this class's default).
    :param downscaling: factor on the student's weights after replay (1.0 = off).
    :param holdout_fraction: share of each task's memories kept out of replay to measure fidelity.
    :param relabel: refresh the task just learned with the cortex's final distributions before
        replay; false keeps the targets each memory had when it was stored (exploratory and
        failed episodes included, with the policy that produced them).
    """

    interleave: bool = True
    gating: GatingSettings = field(default_factory=GatingSettings)
    downscaling: float = 1.0
    holdout_fraction: float = 0.1
    relabel: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.gating, Mapping):  # from a config: merged onto this class's own default
            self.gating = dataclasses.replace(type(self).__dataclass_fields__["gating"].default_factory(),
                                              **self.gating)
        if not 0.0 < self.downscaling <= 1.0:
            raise ValueError(f"consolidation.downscaling={self.downscaling!r} is not allowed: "
                             "expected a float in (0, 1]")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"consolidation.holdout_fraction={self.holdout_fraction!r} is not allowed: "
                             "expected a float in [0, 1)")


class Sleep:
    """Replay + gated distillation (+ downscaling): one night, as :class:`SleepSettings` says.

    Args:
        settings: a :class:`SleepSettings` (or the keywords of one).
        target: ``teacher`` (distil the cortex, relabelling the task just learned) or
            ``taken_actions`` (behaviour cloning of the memories' executed actions; the teacher
            is never called, and the held-out KL is to the stored behaviour distributions).
            ``loss`` with the teacher: ``kl`` (KL(teacher || student) of the Gaussians) or
            ``mse`` (on the means); with taken actions: ``nll`` (negative log-likelihood of the
            action under the student's Gaussian) or ``mse`` (of the student's deterministic action).
    """

    def __init__(self, settings: SleepSettings | None = None, target: str = "teacher", **keywords: Any) -> None:
        if settings is not None and keywords:
            raise TypeError("Sleep takes either settings or their keywords, not both")
        settings = settings if settings is not None else SleepSettings(**keywords)
        if target not in TARGETS:
            raise ValueError(f"consolidation.target={target!r} is not allowed: expected one of {list(TARGETS)}")
        losses = LOSSES if target == "teacher" else TAKEN_ACTION_LOSSES
        if settings.loss not in losses:
            raise ValueError(f"consolidation.loss={settings.loss!r} is not allowed: expected one of {list(losses)}")
        self.settings, self.target = settings, target

    def run(self, student: SubcorticalPolicy, memory: EpisodicMemory, task: int, teacher, seed: int, *,
            updates: int, logger=None, extra_loss: Callable[[SubcorticalPolicy], torch.Tensor] | None = None
            ) -> SleepReport:
        """One night of ``updates`` student updates: refresh ``task``'s trace from ``teacher``,
        replay, distil into ``student``.

        ``extra_loss`` (a strategy's extension point, e.g. a penalty on the student's own weights)
        is called with the student at every update; its scalar is added to the gated distillation
        loss, unscaled by the gains, and counts towards ``max_loss``. None leaves the loop as is.
        """
        start = time.perf_counter()
        if self.target == "teacher" and self.settings.relabel:
            current = memory.arrays([task])
            memory.relabel(task, *teacher.action_distribution(current["obs"]))
        tasks = memory.tasks if self.settings.interleave else [task]
        data = memory.arrays(tasks)
        fields = ["obs", "action_mean", "action_log_std"]
        if self.target == "taken_actions":
            fields.append("action")
            missing = sorted({int(t) for t in data["task"][np.isnan(data["action"]).any(axis=1)]})
            if missing:
                raise ValueError(f"consolidation.target='taken_actions' needs the executed actions, but memories of "
                                 f"tasks {missing} were stored without them")
        rng = np.random.default_rng(seed)
        train, heldout = _split(data["task"], self.settings.holdout_fraction, rng)
        modulator = Neuromodulator(seed=seed, **dataclasses.asdict(self.settings.gating))
        train_tasks = data["task"][train]
        td_error = self._td_error(data, teacher)
        gains = modulator.gains(td_error[train], data["novelty"][train], train_tasks)
        probabilities = modulator.priorities(gains)
        weights_t = torch.as_tensor(modulator.sample_weights(gains, probabilities), dtype=torch.float32)
        expected_gain = float(probabilities @ gains)

        tensors = {k: torch.as_tensor(data[k]) for k in fields}
        optimizer = self.settings.make_optimizer(student.parameters())
        train_t = torch.as_tensor(train)
        report = SleepReport(updates, [int(t) for t in tasks], math.nan, {}, {}, 0.0)
        # Replay indices are drawn in blocks of updates: Generator.choice with p costs O(len(p))
        # per call, and a (block, batch) draw consumes the generator exactly as `block` draws of
        # `batch` do (one uniform per sample, in order), so the batches are the same.
        block = max(1, _DRAW_SAMPLES // self.settings.batch_size)
        for update in range(updates):
            if update % block == 0:
                size = (min(block, updates - update), self.settings.batch_size)
                picks = torch.as_tensor(rng.choice(len(train), size=size, p=probabilities))
            picked = picks[update % block]
            index = train_t[picked]
            per_sample = self._loss(student, tensors, index)
            loss = (weights_t[picked] * per_sample).mean()
            if extra_loss is not None:
                loss = loss + extra_loss(student)
            value = float(loss.detach())
            if not math.isfinite(value) or value > self.settings.max_loss:
                raise DivergenceError(f"sleep diverged at update {update}: loss={value!r} "
                                      f"(limit {self.settings.max_loss}); lower consolidation.learning_rate")
            batch_gain = float(gains[picked.numpy()].mean())
            for group in optimizer.param_groups:  # the step-size mechanism (a factor of 1 when off)
                group["lr"] = self.settings.learning_rate * modulator.step_scale(batch_gain, expected_gain)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if update % self.settings.log_every == 0 or update == updates - 1:
                report.loss_curve.append(value)
                report.gain_curve.append(batch_gain)
                if logger is not None:
                    logger.record("sleep/loss", value)
                    logger.record("sleep/batch_gain", batch_gain)
                    logger.dump(update)
            report.final_loss = value
        if self.settings.downscaling < 1.0:
            _downscale(student, self.settings.downscaling)
        report.heldout_kl = self._heldout_kl(student, tensors, data["task"], heldout if len(heldout) else train)
        report.gating = modulator.summary(gains, td_error[train], data["novelty"][train], train_tasks)
        report.seconds = time.perf_counter() - start
        return report

    def _td_error(self, data: dict[str, np.ndarray], teacher) -> np.ndarray:
        """The dopamine-like tag of every memory: as stored at wake, or recomputed with the
        teacher's current critic (``gating.td_source``)."""
        if self.settings.gating.td_source == "stored" or self.settings.gating.mode == "off":
            return data["td_error"]
        if teacher is None or self.target != "teacher":
            raise ValueError("consolidation.gating.td_source='recomputed' needs the cortex's critic: expected "
                             f"consolidation.target='teacher' with a teacher (got target={self.target!r})")
        lacking = np.isnan(data["next_obs"]).any(axis=1) | np.isnan(data["bootstrap"])
        if lacking.any():
            raise ValueError("consolidation.gating.td_source='recomputed' needs each memory's successor, but memories "
                             f"of tasks {sorted({int(t) for t in data['task'][lacking]})} were stored without it")
        return teacher.td_errors(data["obs"], data["reward"], data["next_obs"], data["bootstrap"]).astype(np.float32)

    def _loss(self, student: SubcorticalPolicy, tensors: dict[str, torch.Tensor], index: torch.Tensor):
        mean, log_std = student(tensors["obs"][index])
        if self.target == "taken_actions":
            return taken_action_loss(student, mean, log_std, tensors["action"][index], self.settings.loss)
        return distillation_loss(mean, log_std, tensors["action_mean"][index], tensors["action_log_std"][index],
                                 self.settings.loss)

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
