"""``awake_control``: the control every sleep effect is measured against (DESIGN.md section 3).

"A sleep effect is claimed only against an awake control with the same number of updates."
This strategy gives the student exactly the updates, batch size and step size of the sleep it
replaces (``updates``, ``batch_size``, ``learning_rate``, ``loss`` as in ``replay_distill``),
but online: each update distils the cortex into the student on ``batch_size`` *fresh* states,
collected by running the cortex in the env of the wake phase just finished. Nothing is
replayed (no memory is read, earlier tasks are not revisited) and nothing is gated. What
differs from sleep is then only where the states come from: offline replay versus new
experience.

How the states are collected: the VecEnv the learner trained on in wake
(``learner.model.env``, still attached) is reseeded with the phase's seed and reset, then
stepped with actions *sampled* from the cortex's Gaussian (clipped to the action box; for
SAC, tanh of the pre-squash sample, mapped to the box), drawn from the strategy's own seeded
generator, so the visited states follow the same distribution as the wake experience that
fills the memory. Episodes that end are reset by the VecEnv itself. Every state is used by
exactly one update (a vectorised step gives ``n_envs`` states; those left over complete the
next update's batch). The cortex's distribution computed to act is also the distillation
target: the cortex does not change in this phase. After the updates, ``heldout_states``
further fresh states measure the held-out KL. All env steps are counted in
``SleepReport.env_steps`` (``takes_env_steps = True``).

Stepping ``learner.model.env`` changes that env's state, which is harmless: the next wake
builds a new env and ``set_env`` makes the learner reset it. The learner's weights are never
changed. Because the env is reseeded and reset first, the states depend only on the cortex,
the context and the seed, not on where wake left the env. A cortex loaded from a checkpoint
(a resumed run) has no env attached: this phase then stops with a ValueError unless the
experiment attaches an env of the last wake's context first.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from agents.guards import DivergenceError
from agents.subcortical import SubcorticalPolicy, gaussian_kl
from consolidation.checks import check_number
from consolidation.memory import EpisodicMemory
from consolidation.sleep import LOSSES, SleepReport, StudentTraining, distillation_loss
from consolidation.strategies.base import Strategy, register


@register("awake_control")
class AwakeControl(Strategy):
    """Online distillation on fresh env states, with the update budget of the sleep it replaces.

    Args: the fields of :class:`consolidation.sleep.StudentTraining` (the budget and optimiser
    of the sleep it replaces; ``loss``: ``kl``, KL(cortical || subcortical) of the Gaussians, or
    ``mse``, on the means) plus ``heldout_states``, the fresh states collected after the updates to
    measure the held-out KL.
    """

    takes_env_steps = True
    shares_wake = True  # its wake is plain fine-tuning

    @dataclass
    class Schema(StudentTraining):
        heldout_states: int = 2048

    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        if self.settings.loss not in LOSSES:
            raise ValueError(f"consolidation.loss={self.settings.loss!r} is not allowed: "
                             f"expected one of {list(LOSSES)}")
        check_number("heldout_states", self.settings.heldout_states, 1, integer=True)

    @property
    def sleep_updates(self) -> int:
        return self.settings.updates

    def sleep(self, student: SubcorticalPolicy, memory: EpisodicMemory, task: int, learner, seed: int,
              updates: int, logger=None) -> SleepReport:
        """``updates`` online distillation steps on fresh states of ``task``'s wake env; ``memory`` is not read."""
        start = time.perf_counter()
        settings = self.settings
        stream = _FreshStates(learner, seed)
        optimizer = settings.make_optimizer(student.parameters())
        report = SleepReport(updates, [], math.nan, {}, {}, 0.0)
        for update in range(updates):
            obs, mean, log_std = stream.take(settings.batch_size)
            loss = self._loss(student, obs, mean, log_std).mean()
            value = float(loss.detach())
            if not math.isfinite(value) or value > settings.max_loss:
                raise DivergenceError(f"awake control diverged at update {update}: loss={value!r} "
                                      f"(limit {settings.max_loss}); lower consolidation.learning_rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if update % settings.log_every == 0 or update == updates - 1:
                report.loss_curve.append(value)
                if logger is not None:
                    logger.record("sleep/loss", value)
                    logger.dump(update)
            report.final_loss = value
        obs, mean, log_std = stream.take(settings.heldout_states)
        with torch.no_grad():
            student_mean, student_log_std = student(obs)
            report.heldout_kl = {int(task): float(gaussian_kl(mean, log_std, student_mean, student_log_std).mean())}
        report.env_steps = stream.env_steps
        report.seconds = time.perf_counter() - start
        return report

    def _loss(self, student: SubcorticalPolicy, obs, teacher_mean, teacher_log_std) -> torch.Tensor:
        return distillation_loss(*student(obs), teacher_mean, teacher_log_std, self.settings.loss)


class _FreshStates:
    """States visited by the cortex acting in its wake env, with its action distribution at each."""

    def __init__(self, learner, seed: int) -> None:
        self.learner, self.env = learner, learner.model.env
        if self.env is None:
            raise ValueError("awake_control needs the env of the wake phase just finished (learner.model.env), but "
                             "the learner has none: a cortex loaded from a checkpoint (a resumed run) has no env")
        space = self.env.action_space
        self.low, self.high, self.squash = space.low, space.high, learner.algorithm == "sac"
        self.rng = np.random.default_rng(seed)
        self.env.seed(seed)
        self.obs = self.env.reset()
        self.env_steps = 0
        self.queue: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.queued = 0

    def take(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` states never used before, with the cortex's mean and log-std there."""
        while self.queued < n:
            self._step()
        parts = [np.concatenate(p) for p in zip(*self.queue, strict=True)]
        self.queue = [tuple(p[n:] for p in parts)] if len(parts[0]) > n else []
        self.queued = len(parts[0]) - n
        return tuple(torch.as_tensor(p[:n]) for p in parts)

    def _step(self) -> None:
        obs = np.asarray(self.obs, dtype=np.float32)
        mean, log_std = self.learner.action_distribution(obs)
        sample = mean + np.exp(log_std) * self.rng.standard_normal(mean.shape)
        if self.squash:  # SAC: tanh of the pre-squash sample, in [-1, 1], mapped to the box
            action = self.low + 0.5 * (np.tanh(sample) + 1.0) * (self.high - self.low)
        else:  # PPO: the Gaussian sample clipped to the box, as SB3 does
            action = np.clip(sample, self.low, self.high)
        self.obs, _, _, _ = self.env.step(action.astype(self.env.action_space.dtype))
        self.env_steps += len(obs)
        self.queue.append((obs, mean.astype(np.float32), log_std.astype(np.float32)))
        self.queued += len(obs)
