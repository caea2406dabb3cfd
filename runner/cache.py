"""The shared-phase cache: a phase that several runs need is computed once and reused.

A finished phase (its sealed checkpoint folder: cortex, student, memory, strategy state and
the phase's record or test row) is stored under a key that hashes everything that produced
it: the run's config, the phase, the key of the phase before it, the seed, the code of the
parts involved and the versions of the numerical packages. A run that needs a phase with the
same key loads it instead of computing it. The code enters as a digest of the syntax trees of
every module the phase's code imports (:mod:`runner.code_digest`): a comment, docstring or
formatting edit keeps the keys, any change of code changes them, and a new module joins the
key as soon as it is imported, with no list to keep.

Two chains of keys run side by side (:class:`KeyChain`):

- the **full chain** hashes every phase before, so a sleep or test entry is reused only by a
  run that is identical up to it (the same strategy, the same sleeps);
- the **wake lane** hashes only the wake phases before, for wakes that are plain fine-tuning
  (``Strategy.plain_wake``: always for ``none``, the sleep variants, the sleep ablations and the
  awake control; the first wake of the wake-penalty baselines, CLEAR and Progress & Compress,
  which have nothing to protect or reset yet). Sleep never changes the cortex under the default
  wake controller (the residual controller's wakes are never shared: they depend on the base its
  sleeps made), and which memory rows a wake writes depends only on the memory's counters, so these
  wakes are trained once per seed for all strategies;
  :meth:`consolidation.memory.EpisodicMemory.adopt_wake` merges a cached wake's rows into the
  memory of the run that reuses it (whose earlier rows a sleep may have relabelled), and the
  strategy's own wake hooks run on the loaded cortex (they change only the strategy's state).

Two processes that need the same entry at the same time compute it once: the first holds a
file lock on the key while it computes, the second waits and then finds the entry. An entry
is copied under a temporary name and renamed into place, so a crashed process leaves no
half-written entry, and every file is checked against its SHA-256 before it is trusted.

The cortical model is SB3's zip, which unpickles some entries: share a cache directory only
with people whose runs you would load anyway.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from runner import checkpoints
from runner.code_digest import code_digest
from runner.faults import crash_point
from runner.identity import digest
from runner.records import package_versions

ROOT = Path(__file__).resolve().parents[1]
#: Our top-level packages: the code digests follow imports within them (runner/code_digest.py).
PACKAGES = ("envs", "agents", "consolidation", "runner", "fileio")
#: The module a wake phase of a wake-sharing strategy runs in: the digest of a shared wake covers
#: it and everything it imports (envs, agents, memory, tagging, protocol, the strategy hooks'
#: base class, the cache and checkpoints), not the sleep modules, which no plain wake runs.
WAKE_ROOT = "runner.experiment"
#: Packages whose version can change a number.
NUMERIC_PACKAGES = ("numpy", "torch", "stable-baselines3", "gymnasium", "mujoco")


class PhaseCache:
    """Where finished phases are kept and how they are shared: the ``cache`` config node.

    Args:
        dir: the cache directory (a shared filesystem lets every node of a cluster reuse phases).
        enabled: False computes every phase and never reads or writes the cache.
        lock_timeout: seconds to wait for another process computing the same phase
            (negative: wait as long as it takes).
    """

    def __init__(self, dir: str | os.PathLike, enabled: bool = True, lock_timeout: float = -1.0) -> None:
        if enabled and not str(dir):
            raise ValueError("cache.dir='' is not allowed: expected a directory (or cache.enabled=false)")
        self.root, self.enabled, self.lock_timeout = Path(dir), bool(enabled), float(lock_timeout)

    def entry(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / key

    @contextmanager
    def claim(self, key: str) -> Iterator[None]:
        """Hold ``key``'s lock: whoever holds it computes the phase; the others wait for the entry."""
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with FileLock(str(locks / f"{key}.lock"), timeout=self.lock_timeout):
            yield

    def get(self, key: str) -> tuple[Path, dict[str, Any]] | None:
        """The verified entry folder and its sealed state, or None (a damaged entry is removed)."""
        folder = self.entry(key)
        if not folder.is_dir():
            return None
        state = checkpoints.verified_state(folder)
        if state is None:
            shutil.rmtree(folder, ignore_errors=True)
        return None if state is None else (folder, state)

    def put(self, key: str, sealed_folder: Path) -> None:
        """Copy a sealed phase folder in as ``key``'s entry: under a temporary name, then renamed."""
        target = self.entry(key)
        if target.is_dir():
            return
        staging = self.root / "staging" / f"{key}.{uuid.uuid4().hex}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copytree(sealed_folder, staging)
            crash_point("cache:before_rename")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class KeyChain:
    """The cache keys of one run's phases, computed phase by phase (see the module docstring).

    A wake is keyed on the wake lane, shared with other strategies, while every wake so far was
    plain fine-tuning (``Strategy.plain_wake``); the first wake that is not leaves the lane for
    good, and it and every later wake are keyed on the full chain with the strategy's code.

    Args:
        identity: the run's config identity (:func:`runner.identity.run_identity`); its protocol
            is left out, since the chain keys the protocol phase by phase.
        tasks: the protocol's contexts, in task order.
        strategy_module: the dotted name of the module defining the strategy's class.
        state: the chain after the phases a resumed run already finished (:meth:`state`).
    """

    def __init__(self, identity: dict[str, Any], tasks: list[str], strategy_module: str,
                 state: dict[str, Any] | None = None) -> None:
        versions = {"python": sys.version.split()[0], **package_versions(NUMERIC_PACKAGES)}
        identity = {k: v for k, v in identity.items() if k != "protocol"}
        wake_identity = {k: v for k, v in identity.items() if k not in ("consolidation", "student_hidden")}
        self.full = digest({"identity": identity, "tasks": tasks, "versions": versions,
                            "code": code_digest((WAKE_ROOT, strategy_module), ROOT, PACKAGES)})
        self.lane: str | None = digest({"identity": wake_identity, "tasks": tasks, "versions": versions,
                                        "code": code_digest((WAKE_ROOT,), ROOT, PACKAGES)})
        self.last_context: str | None = None
        self.strategy_code = code_digest((strategy_module,), ROOT, PACKAGES)
        if state is not None:
            self.full, self.lane, self.last_context = state["full"], state["lane"], state["last_context"]

    def next(self, index: int, phase: dict[str, Any], plain: bool = False) -> tuple[str, bool]:
        """Phase ``index``'s key, and whether its entry may come from another strategy's run;
        ``plain``: the phase is a wake that is plain fine-tuning. Advances the chain."""
        shared = False
        if phase["kind"] == "wake":
            if plain and self.lane is not None:
                self.lane = digest({"after": self.lane, "index": index, "phase": phase,
                                    "previous_context": self.last_context})
                key, shared = self.lane, True
            else:
                self.lane = None
                key = digest({"after": self.full, "index": index, "phase": phase, "strategy": self.strategy_code})
            self.last_context = phase["context"]
            self.full = digest({"after": self.full, "index": index, "phase": phase, "wake": key})
        else:
            self.full = key = digest({"after": self.full, "index": index, "phase": phase, "wake": None})
        return key, shared

    def state(self) -> dict[str, Any]:
        """What a resumed run needs to continue the chain (kept in each phase's record)."""
        return {"full": self.full, "lane": self.lane, "last_context": self.last_context}

