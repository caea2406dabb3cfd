"""The run's SB3 logger (``<run_dir>/logs``: progress.csv, TensorBoard, ...): one global step
across the whole run, and a ``phase`` column.

SB3 dumps a wake's values at the learner's ``num_timesteps`` (env steps since the run began, over
every wake), and a sleep dumps at its update index, which restarts at 0 every night. Here every
dump is written at the run's **global step**: the env steps taken so far plus one tick per
sleep update and per test of the earlier phases (:func:`phase_offset`), so that TensorBoard's
curves never go back in time. It is also the ``global_step`` column of progress.csv, beside
``phase`` (the phase's name) and ``phase_index``.

``wandb`` among ``log_formats`` also sends every dump to Weights & Biases (:class:`WandbOutput`),
an optional extra (``pip install -e ".[wandb]"``), off by default.
"""

from __future__ import annotations

import importlib.util
import numbers
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stable_baselines3.common.logger import KVWriter, Logger, configure, filter_excluded_keys

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
    def configure(cls, folder: str, formats: list[str], run_name: str = "",
                  config: Mapping[str, Any] | None = None) -> RunLogger:
        """SB3's ``configure`` (its output formats, in ``folder``), as a RunLogger; ``wandb`` adds a
        :class:`WandbOutput` for the run ``run_name`` with its ``config``."""
        plain = configure(folder, [f for f in formats if f != "wandb"])
        outputs = list(plain.output_formats)
        if "wandb" in formats:
            outputs.append(WandbOutput(folder, run_name or Path(folder).parent.name, config or {}))
        return cls(plain.dir, outputs)

    def enter(self, index: int, phase: Phase, offset: int,
              on_dump: Callable[[int, dict[str, Any]], None] | None = None) -> None:
        """Phase ``index`` begins: a step ``s`` it dumps is written at global step ``offset + s``."""
        self.phase, self.phase_index, self.offset, self.on_dump = phase.name, index, int(offset), on_dump

    def finish(self) -> None:
        """End the outputs that stand for a whole run elsewhere (a W&B run); the files stay open,
        as SB3 leaves them, for a learner that logs on."""
        for output in self.output_formats:
            if isinstance(output, WandbOutput):
                output.close()
        self.output_formats = [o for o in self.output_formats if not isinstance(o, WandbOutput)]

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


def wandb_missing() -> str | None:
    """Why ``log_formats`` cannot hold ``wandb`` here, or None when it can."""
    if importlib.util.find_spec("wandb") is None:
        return ("the wandb package is not installed: expected pip install -e \".[wandb]\" "
                "(an extra that scripts/setup.sh does not install)")
    return None


class WandbOutput(KVWriter):
    """SB3 output format that sends every dump to a Weights & Biases run, at the run's global step.

    The W&B run is named after the run directory and grouped by it (a resumed attempt is a run of
    its own in the same group); its config is the run's identity. The project is
    ``$WANDB_PROJECT`` (``motorsleep`` when unset); W&B's own variables (``WANDB_MODE=offline``,
    ``WANDB_DIR``, ...) apply. Images, videos and other non-scalar values are left out.
    """

    def __init__(self, folder: str, name: str, config: Mapping[str, Any]) -> None:
        import wandb

        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "motorsleep"), name=name,
                              group=str(Path(folder).parent), dir=folder, config=dict(config))

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        values = filter_excluded_keys(key_values, key_excluded, "wandb")
        self.run.log({k: v for k, v in values.items() if isinstance(v, numbers.Real | str)}, step=int(step))

    def close(self) -> None:
        self.run.finish()
