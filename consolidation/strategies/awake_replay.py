"""``awake_replay``: the matched awake control of sleep's replay, with the same memories and updates.

``awake_control`` trains the student on fresh states of the last wake only, so "offline replay
keeps A" confounds *offline* with *having A's data*. This control has A's data. During each
wake, the student takes the updates of the sleeps that follow that wake (before the next one),
spread evenly over the wake's env steps, each on a batch drawn uniformly from every task the
memory holds, as ``replay_distill`` draws in sleep: earlier tasks with the targets their trace
holds, the task being learned with the cortex's distribution at that moment (the cortex is still
learning it: sleep would use its final one). The sleep slot itself only refreshes the trace of the
task just learned with the final cortex, as the first step of every sleep does, and updates
nothing. What differs from ``replay_distill`` is then only *when* replay happens: online,
interleaved with wake (Kumaran, Hassabis and McClelland 2016 on interleaved learning), or offline.

The student's updates in wake are counted (``WakeReplay.updates_done``), and the wake's record
keeps them, so a test can check that the control does exactly the sleep's number of updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from agents.guards import DivergenceError
from agents.subcortical import SubcorticalPolicy
from consolidation.memory import EpisodicMemory
from consolidation.sleep import LOSSES, SleepReport, StudentTraining, distillation_loss
from consolidation.strategies.base import Strategy, register


@register("awake_replay")
class AwakeReplay(Strategy):
    """Replay and distillation online, during wake, with the memories and the update count of the
    sleeps it replaces. Args: the fields of :class:`consolidation.sleep.StudentTraining`."""

    @dataclass
    class Schema(StudentTraining):
        pass

    def __init__(self, **settings) -> None:
        super().__init__(**settings)
        if self.settings.loss not in LOSSES:
            raise ValueError(f"consolidation.loss={self.settings.loss!r} is not allowed: "
                             f"expected one of {list(LOSSES)}")

    @property
    def sleep_updates(self) -> int:
        return self.settings.updates

    def plain_wake(self, task: int) -> bool:
        return False  # the student learns in wake: the phase cache must not share these wakes

    acts_through_teacher = True

    def wake_callbacks(self, teacher, memory: EpisodicMemory, task: int, student: SubcorticalPolicy,
                       updates: int, steps: int, seed: int) -> list[BaseCallback]:
        return [WakeReplay(self.settings, teacher, memory, task, student, updates, steps, seed)] if updates else []

    def sleep(self, student, memory, task, learner, seed, updates, logger=None) -> SleepReport:
        """The sleep slot: refresh ``task``'s trace with the final cortex, as sleep does first; no update."""
        memory.relabel(task, *learner.action_distribution(memory.arrays([task])["obs"]))
        return SleepReport(0, [], math.nan, {}, {}, 0.0)


class WakeReplay(BaseCallback):
    """``updates`` student updates spread evenly over a wake of ``steps`` env steps (the last ones
    when the wake ends, so the count is exact), each on a uniform batch of the memory's tasks."""

    def __init__(self, settings: StudentTraining, teacher, memory: EpisodicMemory, task: int,
                 student: SubcorticalPolicy, updates: int, steps: int, seed: int) -> None:
        super().__init__()
        self.settings, self.teacher, self.memory, self.task = settings, teacher, memory, task
        self.student, self.updates, self.steps = student, int(updates), int(steps)
        self.rng = np.random.default_rng(seed)
        self.optimizer = settings.make_optimizer(student.parameters())
        self.updates_done, self.replayed_tasks, self.loss_curve = 0, set(), []
        self._data, self._version = None, None

    def _on_training_start(self) -> None:
        self.first_step = self.num_timesteps

    def _on_step(self) -> bool:
        due = math.floor(self.updates * min(1.0, (self.num_timesteps - self.first_step) / self.steps))
        self._catch_up(due)
        return True

    def _on_training_end(self) -> None:
        self._catch_up(self.updates)

    def _catch_up(self, due: int) -> None:
        while self.updates_done < due and len(self.memory):
            self._update()

    def _update(self) -> None:
        data = self._memories()
        index = self.rng.integers(0, len(data["obs"]), size=self.settings.batch_size)
        obs = torch.as_tensor(data["obs"][index])
        mean, log_std = (torch.as_tensor(a) for a in (data["action_mean"][index], data["action_log_std"][index]))
        current = data["task"][index] == self.task  # the task being learned: the cortex's distribution now
        if current.any():
            live_mean, live_log_std = self.teacher.action_distribution(data["obs"][index][current])
            mean[current], log_std[current] = torch.as_tensor(live_mean), torch.as_tensor(live_log_std)
        loss = distillation_loss(*self.student(obs), mean, log_std, self.settings.loss).mean()
        value = float(loss.detach())
        if not math.isfinite(value) or value > self.settings.max_loss:
            raise DivergenceError(f"awake replay diverged at update {self.updates_done}: loss={value!r} "
                                  f"(limit {self.settings.max_loss}); lower consolidation.learning_rate")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.updates_done % self.settings.log_every == 0:
            self.loss_curve.append(value)
        self.replayed_tasks.update(int(t) for t in np.unique(data["task"][index]))
        self.updates_done += 1

    def _memories(self) -> dict[str, np.ndarray]:
        """Every task's memories (read again only when the memory has grown since)."""
        version = tuple(self.memory.count_seen(t) for t in self.memory.tasks)
        if version != self._version:
            self._data = self.memory.arrays(None)
            self._version = version
        return self._data

    def record(self) -> dict:
        """What the wake's record keeps of this control's work."""
        return {"student_updates": self.updates_done, "replayed_tasks": sorted(self.replayed_tasks),
                "loss_curve": self.loss_curve}
