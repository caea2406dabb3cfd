"""The run's SB3 logger (``<run_dir>/logs``: progress.csv, TensorBoard, ...): one global step
across the whole run, and a ``phase`` column.

SB3 dumps a wake's values at the learner's ``num_timesteps`` (env steps since the run began, over
every wake), and a sleep dumps at its update index, which restarts at 0 every night. Here every
dump is written at the run's **global step**: the env steps taken so far plus one tick per
sleep update and per test of the earlier phases (:func:`phase_offset`), so that TensorBoard's
curves never go back in time. It is also the ``global_step`` column of progress.csv, beside
``phase`` (the phase's name) and ``phase_index``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stable_baselines3.common.logger import Logger, configure

from consolidation.protocol import Phase

#: SB3's TensorBoard writer would show a string as text: the phase is a CSV/JSON column only,
#: and the global step is TensorBoard's x axis already.
_NOT_TENSORBOARD = ("tensorboard",)


class RunLogger(Logger):
    """SB3's :class:`~stable_baselines3.common.logger.Logger`, writing at the run's global step.

    :meth:`enter` says which phase is under way and where its steps start; :meth:`dump` adds the
    phase columns, tells ``on_dump`` (e.g. a sleep's progress line) what was recorded, and writes.
    """

    def __init__(self, folder: str | None, output_formats: list) -> None:
        super().__init__(folder, output_formats)
        self.phase, self.phase_index, self.offset = "", -1, 0
        self.on_dump: Callable[[int, dict[str, Any]], None] | None = None

    @classmethod
    def configure(cls, folder: str, formats: list[str]) -> RunLogger:
        """SB3's ``configure`` (its output formats, in ``folder``), as a RunLogger."""
        plain = configure(folder, formats)
        return cls(plain.dir, plain.output_formats)

    def enter(self, index: int, phase: Phase, offset: int,
              on_dump: Callable[[int, dict[str, Any]], None] | None = None) -> None:
        """Phase ``index`` begins: a step ``s`` it dumps is written at global step ``offset + s``."""
        self.phase, self.phase_index, self.offset, self.on_dump = phase.name, index, int(offset), on_dump

    def dump(self, step: int = 0) -> None:
        if self.on_dump is not None:
            self.on_dump(int(step), dict(self.name_to_value))
        if self.phase:
            self.record("phase", self.phase, exclude=_NOT_TENSORBOARD)
            self.record("phase_index", self.phase_index, exclude=_NOT_TENSORBOARD)
        self.record("global_step", self.offset + int(step), exclude=_NOT_TENSORBOARD)
        super().dump(self.offset + int(step))


def phase_offset(phases: list[Phase], index: int, env_steps: int) -> int:
    """The ``offset`` of phase ``index`` (:meth:`RunLogger.enter`), given the learner's
    ``env_steps`` so far (every earlier wake as it really ran, its last rollout finished).

    A wake dumps at the learner's step count, so its offset is the ticks of the earlier phases:
    a sleep's updates and one more (a strategy may dump once after its last update), one per
    test. A sleep or test dumps its own count from 0, one step after the env steps and ticks
    before it, so no two dumps share a step.
    """
    ticks = sum((p.updates or 0) + 1 if p.kind == "sleep" else 1 if p.kind == "test" else 0 for p in phases[:index])
    return ticks if phases[index].kind == "wake" else int(env_steps) + ticks + 1
