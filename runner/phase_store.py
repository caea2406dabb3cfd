"""Where each phase of a run comes from and where it goes: the one wrapper around a phase.

A phase comes from the run directory (an earlier attempt finished it: resumed), from the
shared-phase cache (another run computed the same phase: :mod:`runner.cache`) or from
computing it; it then goes to a sealed checkpoint in the run directory
(:mod:`runner.checkpoints`) and, when computed, into the cache. The terminal says which, phase
by phase. The schedule (:meth:`runner.experiment.Experiment.run`) knows none of this.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from agents.subcortical import SubcorticalPolicy
from consolidation.fading_memory import load_memory
from consolidation.protocol import Phase
from runner import checkpoints
from runner.cache import KeyChain
from runner.faults import crash_point
from runner.progress import say

Outcome = tuple[dict[str, Any], "dict[str, Any] | None"]  # a phase's record and its test row (None unless a test)


class PhaseStore:
    """Resume, reuse, checkpoint and cache the phases of one experiment.

    On construction it restores the experiment's learner, student, memory, novelty statistics
    and strategy state from the longest prefix of sealed phases in the run directory.
    :attr:`records` and :attr:`rows` then grow phase by phase.
    """

    def __init__(self, experiment) -> None:
        self.experiment = experiment
        finished = self._finished_phases()
        if finished:
            self._restore(finished)
            last = len(finished) - 1
            say(f"motorsleep: resuming {experiment.run_dir} after phase {last} "
                f"({experiment.protocol.phases[last].name})")
        self.resumed = len(finished)
        self.records: list[dict[str, Any]] = [state["record"] for state in finished]
        self.rows: list[dict[str, Any]] = [state["row"] for state in finished if state["row"] is not None]
        self.chain = self._key_chain()

    def phase(self, index: int, phase: Phase, compute: Callable[[int, Phase], Outcome]) -> None:
        """Phase ``index``: resumed, taken from the cache or computed by ``compute``; then sealed."""
        x = self.experiment
        if index < self.resumed:
            _say(index, phase, "resumed from the run directory")
            return
        start = time.perf_counter()
        key, shared = None, False
        if self.chain is not None:
            plain = (phase.kind == "wake" and x.controller.plain
                     and x.strategy.plain_wake(x.tasks.index(phase.context)))
            key, shared = self.chain.next(index, dataclasses.asdict(phase), plain)
        with contextlib.nullcontext() if key is None else x.cache.claim(key):
            reused = None if key is None else self._reuse(key, shared, index, phase)
            record, row = reused if reused is not None else compute(index, phase)
            if key is not None:
                record["cache"] = {**record.get("cache", {}), "hit": reused is not None, "key": key,
                                   "shared": shared, "chain": self.chain.state()}
            if row is not None:
                self.rows.append(row)
            record["seconds"] = time.perf_counter() - start
            self.records.append(record)
            crash_point(f"{index}:before_checkpoint")
            folder = self._checkpoint(index, phase, {"record": record, "row": row,
                                                     "wake_gating": x.wake_gating.state_dict()})
            crash_point(f"{index}:after_checkpoint")
            if key is not None and reused is None:
                x.cache.put(key, folder)
        if reused is None:
            _say(index, phase, f"computed in {record['seconds']:.1f} s")
        else:
            _say(index, phase, f"taken from the cache (key {key[:12]}, computed in "
                               f"{record['cache']['computed_seconds']:.1f} s by an earlier run)")

    # -- resume ------------------------------------------------------------------------------
    def _finished_phases(self) -> list[dict[str, Any]]:
        """Sealed states of the longest prefix of phases that finished and verify."""
        x = self.experiment
        states = []
        for index, phase in enumerate(x.protocol):
            state = checkpoints.verified_state(checkpoints.phase_folder(x.run_dir, index, phase.name))
            if state is None:
                break
            states.append(state)
        return states

    def _restore(self, finished: list[dict[str, Any]]) -> None:
        """Load the learner, student and memory saved by the last finished non-test phase."""
        x = self.experiment
        index = max(i for i, state in enumerate(finished) if "memory.npz" in state["manifest"])
        folder = checkpoints.phase_folder(x.run_dir, index, x.protocol.phases[index].name)
        x.student = SubcorticalPolicy.load(folder / "subcortical.pt")
        x.memory = load_memory(folder / "memory.npz")
        if "cortical.zip" in finished[index]["manifest"]:
            # SB3's zip unpickles some entries: only files this run wrote and that match their
            # SHA-256 in the sealed manifest get here
            x.learner.load(folder / "cortical.zip")
            x.learner.model.set_logger(x.logger)
        x.strategy.load_state_dict(torch.load(folder / "strategy.pt", weights_only=True))
        x.controller.load_state_dict(_controller_state(folder, finished[index]))
        x.novelty.load_state_dict(_novelty_state(folder, finished[index]))
        x.wake_gating.load_state_dict(finished[-1].get("wake_gating"))

    # -- the shared-phase cache --------------------------------------------------------------
    def _key_chain(self) -> KeyChain | None:
        """The chain of cache keys, continued after the finished phases of a resumed run; None
        when the cache is off or an earlier attempt ran without it."""
        x = self.experiment
        if x.cache is None:
            return None
        state = None
        if self.records:
            state = self.records[-1].get("cache", {}).get("chain")
            if state is None:
                say("motorsleep: the phase cache is not used: the finished phases ran without it")
                return None
        return KeyChain(x.identity, x.tasks, type(x.strategy).__module__, state)

    def _reuse(self, key: str, shared: bool, index: int, phase: Phase) -> Outcome | None:
        """Load phase ``index`` from the cache into the experiment: (record, row), or None on a miss.

        A wake entry gives the cortex and what the wake wrote to the memory. A wake shared with
        other strategies leaves this run's earlier memory rows alone, and this strategy's wake
        hooks run on the loaded cortex (a plain wake's hooks change only the strategy's state).
        """
        x = self.experiment
        found = x.cache.get(key)
        if found is None:
            return None
        folder, state = found
        if phase.kind == "wake":
            x.learner.load(folder / "cortical.zip")
            x.learner.model.set_logger(x.logger)
            cached = load_memory(folder / "memory.npz")
            task = x.tasks.index(phase.context)
            if shared:
                x.memory.adopt_wake(cached, task, index)
                x.strategy.on_wake_start(x.learner, x.memory, task)
                x.strategy.on_wake_end(x.learner, x.memory, task)
            else:
                x.memory = cached
                x.strategy.load_state_dict(torch.load(folder / "strategy.pt", weights_only=True))
        elif phase.kind == "sleep":
            if x.controller.writes_back:  # the sleep changed the cortex too
                x.learner.load(folder / "cortical.zip")
                x.learner.model.set_logger(x.logger)
            x.student = SubcorticalPolicy.load(folder / "subcortical.pt")
            x.memory = load_memory(folder / "memory.npz")
            x.strategy.load_state_dict(torch.load(folder / "strategy.pt", weights_only=True))
        if phase.kind != "test":  # a test changes neither the novelty model nor the memory
            x.novelty.load_state_dict(_novelty_state(folder, state))
            x.controller.load_state_dict(_controller_state(folder, state))
        x.wake_gating.load_state_dict(state.get("wake_gating"))
        record = {**state["record"], "cache": {"computed_seconds": state["record"]["seconds"]}}
        return record, state["row"]

    # -- checkpoints -------------------------------------------------------------------------
    def _checkpoint(self, index: int, phase: Phase, state: dict[str, Any]) -> Path:
        """Write the phase's files (a test changes nothing, so it writes only its row), then seal."""
        x = self.experiment
        folder = checkpoints.phase_folder(x.run_dir, index, phase.name)
        checkpoints.begin(folder)
        if phase.kind != "test":
            if x.learner.model is not None:
                checkpoints.save_sb3(x.learner.model, folder / "cortical.zip")
            x.student.save(folder / "subcortical.pt")
            checkpoints.save_tensors(x.strategy.state_dict(), folder / "strategy.pt")
            checkpoints.save_tensors(x.novelty.state_dict(), folder / "novelty.pt")
            controller = x.controller.state_dict()
            if controller:
                checkpoints.save_tensors(controller, folder / "controller.pt")
            crash_point(f"{index}:mid_checkpoint")
            x.memory.save(folder / "memory.npz")
        checkpoints.finish(folder, state)
        return folder


def _novelty_state(folder: Path, state: dict[str, Any]) -> dict[str, Any]:
    """The novelty model's state saved with a phase: ``novelty.pt``, or in ``phase.json`` for
    phases sealed before it moved to its own file."""
    if "novelty.pt" in state.get("manifest", {}) or "novelty" not in state:
        return torch.load(folder / "novelty.pt", weights_only=True)
    return state["novelty"]


def _controller_state(folder: Path, state: dict[str, Any]) -> dict[str, Any]:
    """The wake controller's state saved with a phase (none for the cortex alone)."""
    if "controller.pt" not in state.get("manifest", {}):
        return {}
    return torch.load(folder / "controller.pt", weights_only=True)


def _say(index: int, phase: Phase, what: str) -> None:
    say(f"motorsleep: phase {index} ({phase.name}): {what}")

