"""What a run says while it runs: a labelled progress line per phase, and the ``motorsleep:``
messages, on the terminal and in ``<run_dir>/run.log``.

On a terminal a phase's progress is one live line (tqdm); elsewhere (a file, CI) it is plain
lines, one per tenth of the phase and at least one every ``every_seconds``, never a ``\\r``.
Every message and every plain line also goes to the run's ``run.log`` while :func:`run_log`
holds it open. Nothing here changes what a run computes: progress is not part of a run's
identity (runner/identity.py).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from stable_baselines3.common.callbacks import BaseCallback

#: The run's own messages: kept off the root logger, whose handlers (Hydra's console) would
#: print them a second time.
LOG = logging.getLogger("motorsleep.run")
LOG.propagate = False
LOG.setLevel(logging.INFO)

MODES = ("auto", "live", "plain", "off")
#: Plain lines closer together than this are skipped (but for a phase's last).
_MIN_GAP_SECONDS = 2.0


def say(text: str, stream: IO[str] | None = None) -> None:
    """Print a message (stderr unless ``stream``) and write it to the run's ``run.log``."""
    print(text, file=stream if stream is not None else sys.stderr, flush=True)
    LOG.info(text)


@contextlib.contextmanager
def run_log(run_dir: str | Path) -> Iterator[None]:
    """Append :func:`say`'s messages and the plain progress lines to ``<run_dir>/run.log`` meanwhile."""
    handler = logging.FileHandler(Path(run_dir) / "run.log", mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"))
    LOG.addHandler(handler)
    try:
        yield
    finally:
        LOG.removeHandler(handler)
        handler.close()


class Progress:
    """One labelled progress line for the phase under way.

    Args:
        mode: ``auto`` (a live line on a terminal, plain lines otherwise), ``live``, ``plain``
            or ``off`` (none on the terminal, only the messages that say how each phase ended;
            ``run.log`` gets the plain lines in every mode).
        every_seconds: plain lines come at every tenth of a phase, at most one per 2 s, and at
            least one per this many seconds.
        stream: where the lines go (stderr by default).
    """

    def __init__(self, mode: str = "auto", every_seconds: float = 60.0, stream: IO[str] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"progress.mode={mode!r} is not allowed: expected one of {list(MODES)}")
        if not float(every_seconds) > 0:
            raise ValueError(f"progress.every_seconds={every_seconds!r} is not allowed: expected a number > 0")
        self.mode, self.every_seconds, self._stream = mode, float(every_seconds), stream
        self._bar = None
        self.label, self.total, self.unit = "", 0, ""
        self._last_text = None

    @property
    def stream(self) -> IO[str]:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def live(self) -> bool:
        if self.mode == "auto":
            return bool(getattr(self.stream, "isatty", lambda: False)())
        return self.mode == "live"

    def start(self, label: str, total: int, unit: str) -> None:
        """A phase of ``total`` ``unit`` begins (``label``: e.g. ``phase 2 (wake_B)``)."""
        self.close()
        self.label, self.total, self.unit = label, int(total), unit
        self._last_text = None  # the phase's last plain line: finish does not say it twice
        self._started = self._last = time.monotonic()
        self._next_tenth = 1
        if self.mode != "off" and self.live:
            from tqdm import tqdm

            counts = "{desc}: {n:,}/{total:,} " + unit
            self._bar = tqdm(total=self.total, desc=f"motorsleep: {label}", unit=unit, file=self.stream,
                             leave=False, dynamic_ncols=True,
                             bar_format=counts + " {bar:20} [{elapsed}<{remaining}]{postfix}")

    def update(self, done: int, note: Callable[[], str] | str = "") -> None:
        """``done`` units so far (the display never passes the total); ``note``: what to add, e.g. a score
        (a callable is called only when a line is shown)."""
        shown = min(int(done), self.total)
        now = time.monotonic()
        if self._bar is not None:
            if self._bar._time() - self._bar.last_print_t >= self._bar.mininterval:  # at tqdm's own pace
                self._bar.set_postfix_str(_text(note), refresh=False)
                self._bar.update(shown - self._bar.n)
        tenth = self.total and shown * 10 >= self._next_tenth * self.total
        if (tenth and now - self._last >= _MIN_GAP_SECONDS) or now - self._last >= self.every_seconds:
            self._plain(f"{shown:,}/{self.total:,} {self.unit}", note)
            self._last = now
            while self.total and self._next_tenth * self.total <= shown * 10:
                self._next_tenth += 1

    def finish(self, done: int, note: Callable[[], str] | str = "", over_what: str = "") -> None:
        """The phase is done after ``done`` units: one last line, which says by how many units it
        went past its total (``over_what``: why, e.g. ``to finish the rollout``)."""
        self.close()
        shown = min(int(done), self.total)
        over = f" (+{int(done) - self.total:,} {over_what})" if done > self.total and over_what else ""
        self._plain(f"{shown:,}/{self.total:,} {self.unit}{over}", note, always=True)

    def line(self, label: str, text: str) -> None:
        """A line of its own, e.g. a test's scores."""
        self._say(f"motorsleep: {label}: {text}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _plain(self, counts: str, note: Callable[[], str] | str, always: bool = False) -> None:
        text = f"motorsleep: {self.label}: {counts}"
        extra = _text(note)
        text += f", {extra}" if extra else ""
        if always and text == self._last_text:
            return  # the last update already said exactly this (a sleep's final update)
        if self._bar is None or always:
            self._say(text)
            self._last_text = text
        else:  # the live line shows it; the run's log still gets the plain line
            LOG.info(text)

    def _say(self, text: str) -> None:
        if self.mode == "off":
            LOG.info(text)
        else:
            say(text, self.stream)


def _text(note: Callable[[], str] | str) -> str:
    return note() if callable(note) else note


class WakeProgress(BaseCallback):
    """The progress of a wake: env steps since the phase began against the phase's budget, and
    the latest training score. It only reads; it changes nothing in training.

    Args:
        progress: where the lines go.
        label: the phase, e.g. ``phase 2 (wake_B)``.
        steps: the phase's budget (PPO finishes the rollout under way, so it may take a few more).
        score: the latest training score, or None before the first one.
    """

    def __init__(self, progress: Progress, label: str, steps: int, score: Callable[[], float | None]) -> None:
        super().__init__(0)
        self.progress, self.label, self.steps, self.score = progress, label, int(steps), score
        self._start = 0

    def _on_training_start(self) -> None:
        self._start = int(self.model.num_timesteps)
        self.progress.start(self.label, self.steps, "steps")

    def _on_step(self) -> bool:
        self.progress.update(self._done(), self._note)
        return True

    def _on_training_end(self) -> None:
        self.progress.finish(self._done(), self._note, "to finish the rollout")

    def _done(self) -> int:
        return int(self.model.num_timesteps) - self._start

    def _note(self) -> str:
        score = self.score()
        return "" if score is None else f"training score {score:.2f}"
