"""The Python API: run an experiment from config overrides, read a saved run back, score its
policies and make its envs, in a few lines of a notebook.

    import motorsleep
    results = motorsleep.run(["experiment=smoke", "seed=3"], run_dir="runs/mine")
    run = motorsleep.load_run("runs/mine")                      # its family, contexts, phases
    scores = motorsleep.evaluate("runs/mine", policy="subcortical", context="A")
    env = motorsleep.make_env("runs/mine", "A")                 # the run's env, cue included

Each function is a thin layer over the run machinery the command line uses: runs are built
by :mod:`runner.build` (the one way to build a run), saved runs are read and scored by
:class:`runner.saved_run.SavedRun`, so a notebook's numbers are the command line's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium

from runner.build import build_experiment
from runner.saved_run import EVAL_SEED, ContextScore, SavedRun

Context = str | Mapping[str, Any]
"""A context: a label of the run (``A``), a preset of its family (``curl_ccw``) or a dict of fields."""


def run(overrides: Sequence[str] = (), run_dir: str | Path | None = None) -> dict[str, Any]:
    """Build the experiment these Hydra overrides describe, as ``motorsleep run`` composes it, and
    run it in this process, writing into ``run_dir``; returns what ``results.json`` holds.

    A run directory holding finished phases of the same config resumes after them. A bad config
    raises :class:`runner.build.ConfigError` naming the field, before any work.
    """
    return build_experiment(overrides, run_dir=run_dir).run()


def load_run(run_dir: str | Path) -> SavedRun:
    """The saved run in ``run_dir``: its task family (``.family``), phases that saved a policy
    (``.phases``), and :meth:`~runner.saved_run.SavedRun.evaluate` and ``make_env``."""
    return SavedRun(run_dir)


def evaluate(run_dir: str | Path, policy: str = "cortical", phase: int | str | None = None,
             context: Context | Sequence[Context] | None = None, episodes: int | None = None,
             seed: int = EVAL_SEED) -> dict[str, ContextScore]:
    """Score a saved run's ``cortical`` or ``subcortical`` policy after ``phase`` (an index, folder
    such as ``02_sleep`` or unique name such as ``wake_A``; default: the last that saved one) on
    ``context`` (one or several; default: the run's own), as its test phases do: normalised score,
    mean return and success rate over ``episodes`` (default: the run's ``eval_episodes``) from
    ``seed``. With the defaults the numbers equal those in the run's ``results.json``.
    """
    return SavedRun(run_dir).evaluate(policy, phase, context, episodes, seed)


def make_env(run_dir: str | Path, context: Context | None = None, **overrides: Any) -> gymnasium.Env:
    """The env a saved run's policies act in on ``context`` (default: its first), cue included;
    ``overrides`` are further constructor keywords (e.g. ``render_mode="rgb_array"``)."""
    return SavedRun(run_dir).make_env(context, **overrides)


__all__ = ["ContextScore", "evaluate", "load_run", "make_env", "run"]
