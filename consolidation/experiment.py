"""One experiment: an agent lives through a protocol of wake, sleep and test phases, and is scored.

This is where the parts meet: the task family's envs, the cortical learner with its memory
tagging callback, the episodic memory, sleep, and evaluation into the performance matrices
R (cortical and subcortical). Every phase leaves a checkpoint; the run ends with
``results.json``.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import set_random_seed

from agents.cortex import CorticalLearner
from agents.evaluation import evaluate, normalised_score
from agents.guards import DivergenceError, DivergenceGuard
from agents.reference import baseline_return, reference_return
from agents.subcortical import SubcorticalPolicy
from consolidation import checkpoints, results
from consolidation.cache import KeyChain, PhaseCache
from consolidation.curves import LearningCurveCallback
from consolidation.memory import EpisodicMemory
from consolidation.protocol import Protocol
from consolidation.records import provenance, write_json_atomic
from consolidation.strategies import Strategy
from consolidation.tagging import MemoryTaggingCallback, RunningNovelty
from envs.family import TaskFamily
from envs.vector import make_vec


class Experiment:
    """Wire a task family, a cortical learner, a subcortical student, sleep and a protocol.

    Args:
        env, agent, consolidation, protocol: the instantiated config options.
        student_hidden: hidden layers of the subcortical policy.
        memory_capacity: transitions kept per task in the episodic memory.
        eval_episodes: evaluation episodes per (policy, context) in every test.
        seed: seeds numpy, torch, the envs and the learner.
        run_dir: where checkpoints, logs and results go.
        log_formats: SB3 logger outputs (``log`` writes its stdout table to a file).
        torch_threads: torch CPU threads (fixed: results are reproducible for a given count).
        cache: the shared-phase cache (None or disabled: every phase is computed).
    """

    def __init__(self, env: TaskFamily, agent: CorticalLearner, consolidation: Strategy, protocol: Protocol,
                 student_hidden: list[int], memory_capacity: int, eval_episodes: int, seed: int,
                 run_dir: str | Path, log_formats: list[str] | None = None, torch_threads: int = 1,
                 cache: PhaseCache | None = None) -> None:
        self.family, self.learner, self.strategy, self.protocol = env, agent, consolidation, protocol
        self.student_hidden = [int(h) for h in student_hidden]
        self.memory_capacity, self.eval_episodes, self.seed = int(memory_capacity), int(eval_episodes), int(seed)
        self.run_dir = Path(run_dir)
        self.log_formats = list(log_formats or ["log", "csv", "tensorboard"])
        self.torch_threads = int(torch_threads)
        self.cache = cache
        #: the resolved config minus what cannot change a result (consolidation.cache.run_identity);
        #: the phase cache keys on it, so it stays unused until scripts/run.py sets it
        self.identity: dict[str, Any] | None = None
        self.tasks = protocol.contexts
        self._validate()

    def _validate(self) -> None:
        """Cross-field rules, checked before any training (single fields check themselves)."""
        for name, value in (("memory_capacity", self.memory_capacity), ("eval_episodes", self.eval_episodes),
                            ("torch_threads", self.torch_threads)):
            if value < 1:
                raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 1")
        for index, phase in enumerate(self.protocol.phases):
            if phase.kind == "wake" and phase.context not in self.family.contexts:
                raise ValueError(f"protocol.phases[{index}].context={phase.context!r} is not defined: "
                                 f"env.contexts has {self.family.labels}")
        probe = self.family.make_env(self.tasks[0])
        obs_dim, action_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
        probe.close()
        student = _mlp_parameters([obs_dim, *self.student_hidden, action_dim]) + action_dim
        teacher = _mlp_parameters([obs_dim, *self.learner.net_arch, action_dim]) + action_dim
        if student > teacher:
            raise ValueError(f"student_hidden={self.student_hidden!r} gives a subcortical policy of {student:,} "
                             f"parameters, larger than the cortical actor's {teacher:,} (agent.net_arch="
                             f"{self.learner.net_arch}): expected a student no larger than its teacher")

    # -- the protocol ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Live through the protocol, resuming after the last finished phase of an earlier
        attempt in the same run directory, and write ``results.json``."""
        torch.set_num_threads(self.torch_threads)
        _seed_everything(self.seed)
        attempt = self._record_provenance()
        # a resumed attempt logs beside the first one: SB3's CSV output would overwrite it
        logs = self.run_dir / "logs" if attempt == 0 else self.run_dir / f"logs_resumed_{attempt}"
        logger = configure(str(logs), self.log_formats)
        probe = self.family.make_env(self.tasks[0])
        obs_dim, action_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
        probe.close()
        student = SubcorticalPolicy(obs_dim, action_dim, self.student_hidden,
                                    bounded_mean=self.learner.bounded_mean, squash=self.learner.algorithm == "sac")
        memory = EpisodicMemory(self.memory_capacity, obs_dim, action_dim, seed=self.seed)
        novelty = RunningNovelty()
        self._check_resources(obs_dim, action_dim)
        anchors = self._anchors()

        finished = self._finished_phases()
        if finished:
            student, memory = self._restore(finished, novelty, logger)
        rows = [state["row"] for state in finished if state["row"] is not None]
        phases = [state["record"] for state in finished]
        wakes = [p.context for p in self.protocol.phases[:len(finished)] if p.kind == "wake"]
        last_wake = wakes[-1] if wakes else None
        chain = self._key_chain(phases)
        for index in range(len(finished), len(self.protocol)):
            phase = self.protocol.phases[index]
            # each phase starts from a seed of its own: a resumed phase replays exactly
            phase_seed = self.seed * 1000 + index
            set_random_seed(phase_seed)
            start = time.perf_counter()
            key, shared = None, False
            if chain is not None:
                plain = phase.kind == "wake" and self.strategy.plain_wake(self.tasks.index(phase.context))
                key, shared = chain.next(index, _phase_spec(phase), plain)
            with contextlib.nullcontext() if key is None else self.cache.claim(key):
                reused = None if key is None else self._reuse(key, shared, index, phase, student, memory, novelty,
                                                              logger)
                if reused is not None:
                    student, memory, record, row = reused
                else:
                    record, row = self._compute(phase, index, student, memory, novelty, logger, phase_seed,
                                                last_wake, anchors, phases)
                if key is not None:
                    record["cache"] = {**record.get("cache", {}), "hit": reused is not None, "key": key,
                                       "shared": shared, "chain": chain.state()}
                if phase.kind == "wake":
                    last_wake = phase.context
                if row is not None:
                    rows.append(row)
                record["seconds"] = time.perf_counter() - start
                phases.append(record)
                crash_point(f"{index}:before_checkpoint")
                folder = self._checkpoint(index, phase, student, memory, {"record": record, "row": row,
                                                                          "novelty": novelty.state_dict()})
                crash_point(f"{index}:after_checkpoint")
                if key is not None and reused is None:
                    self.cache.put(key, folder)
        outcome = self._results(rows, phases, anchors, student)
        write_json_atomic(self.run_dir / "results.json", outcome)
        return outcome

    def _compute(self, phase, index: int, student, memory, novelty, logger, phase_seed: int,
                 last_wake: str | None, anchors, phases) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Live through one phase: its record, and its test row (None unless a test)."""
        record: dict[str, Any] = {"index": index, "kind": phase.kind, "name": phase.name}
        row = None
        if phase.kind == "wake":
            record.update(self._wake(phase, index, memory, novelty, logger, phase_seed, last_wake, anchors))
        elif phase.kind == "sleep":
            report = self._sleep(phase, index, student, memory, last_wake, logger)
            record.update(self._sleep_record(report))
        else:
            row = self._test(student, anchors, after=phases[-1]["name"] if phases else "start")
        return record, row

    # -- the shared-phase cache (consolidation/cache.py) -------------------------------------
    def _key_chain(self, records: list[dict[str, Any]]) -> KeyChain | None:
        """The chain of cache keys, continued after the finished phases of a resumed run; None
        when the cache is off, the run has no config identity, or an earlier attempt ran without it."""
        if self.cache is None or not self.cache.enabled:
            return None
        if self.identity is None:
            print("motorsleep: the phase cache is not used: this experiment has no config identity "
                  "(scripts/run.py sets it)", file=sys.stderr)
            return None
        state = None
        if records:
            state = records[-1].get("cache", {}).get("chain")
            if state is None:
                print("motorsleep: the phase cache is not used: the finished phases ran without it",
                      file=sys.stderr)
                return None
        return KeyChain(self.identity, self.tasks, inspect.getfile(type(self.strategy)), state)

    def _reuse(self, key: str, shared: bool, index: int, phase, student, memory, novelty, logger):
        """Load phase ``index`` from the cache: (student, memory, record, row), or None on a miss.

        A wake entry gives the cortex and what the wake wrote to the memory. A wake shared with
        other strategies leaves this run's earlier memory rows alone, and this strategy's wake
        hooks run on the loaded cortex (a plain wake's hooks change only the strategy's state).
        """
        found = self.cache.get(key)
        if found is None:
            return None
        folder, state = found
        if phase.kind == "wake":
            self.learner.load(folder / "cortical.zip")
            self.learner.model.set_logger(logger)
            cached = EpisodicMemory.load(folder / "memory.npz")
            task = self.tasks.index(phase.context)
            if shared:
                memory.adopt_wake(cached, task, index)
                self.strategy.on_wake_start(self.learner, memory, task)
                self.strategy.on_wake_end(self.learner, memory, task)
            else:
                memory = cached
                self.strategy.load_state_dict(torch.load(folder / "strategy.pt", weights_only=True))
        elif phase.kind == "sleep":
            student = SubcorticalPolicy.load(folder / "subcortical.pt")
            memory = EpisodicMemory.load(folder / "memory.npz")
            self.strategy.load_state_dict(torch.load(folder / "strategy.pt", weights_only=True))
        novelty.load_state_dict(state["novelty"])
        record = {**state["record"], "cache": {"computed_seconds": state["record"]["seconds"]}}
        return student, memory, record, state["row"]

    def _check_resources(self, obs_dim: int, action_dim: int) -> None:
        """Warn before any work if the memory (RAM) or the checkpoints (disk) may not fit."""
        per_transition = 4 * (obs_dim + 3 * action_dim + 3) + 4 + 8  # float32 fields, phase, step
        memory_bytes = self.memory_capacity * len(self.tasks) * per_transition
        saving_phases = sum(p.kind != "test" for p in self.protocol)
        actor = _mlp_parameters([obs_dim, *self.learner.net_arch, action_dim])
        model_bytes = 4 * 3 * 3 * actor  # actor + critic, with two Adam moments each, float32
        disk_bytes = saving_phases * (memory_bytes + model_bytes)
        free_disk = shutil.disk_usage(self.run_dir if self.run_dir.exists() else self.run_dir.parent).free
        free_ram = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        self.resources = {"memory_bytes_max": memory_bytes, "checkpoint_bytes_estimate": disk_bytes,
                          "free_disk_bytes": free_disk, "free_ram_bytes": free_ram}
        if memory_bytes > 0.5 * free_ram:
            print(f"motorsleep: warning: the episodic memory may reach {memory_bytes / 2**30:.1f} GiB "
                  f"(memory_capacity={self.memory_capacity} x {len(self.tasks)} tasks), over half of the "
                  f"{free_ram / 2**30:.1f} GiB of free RAM", file=sys.stderr)
        if disk_bytes > free_disk:
            print(f"motorsleep: warning: checkpoints may need {disk_bytes / 2**30:.1f} GiB in {self.run_dir}, "
                  f"more than the {free_disk / 2**30:.1f} GiB free", file=sys.stderr)

    def _record_provenance(self) -> int:
        """``run.json``: provenance of the first attempt, plus one entry per resumed attempt.
        Returns this attempt's number (0 for the first)."""
        path = self.run_dir / "run.json"
        record = provenance(self.seed)
        attempt = 0
        if path.is_file():
            first = json.loads(path.read_text())
            first.setdefault("resumed", []).append(record)
            attempt = len(first["resumed"])
            record = first
        write_json_atomic(path, record)
        return attempt

    def _finished_phases(self) -> list[dict[str, Any]]:
        """Sealed states of the longest prefix of phases that finished and verify."""
        states = []
        for index, phase in enumerate(self.protocol):
            state = checkpoints.verified_state(checkpoints.phase_folder(self.run_dir, index, phase.name))
            if state is None:
                break
            states.append(state)
        return states

    def _restore(self, finished, novelty: RunningNovelty, logger):
        """Load the learner, student and memory saved by the last finished non-test phase."""
        index = max(i for i, state in enumerate(finished) if "memory.npz" in state["manifest"])
        folder = checkpoints.phase_folder(self.run_dir, index, self.protocol.phases[index].name)
        student = SubcorticalPolicy.load(folder / "subcortical.pt")
        memory = EpisodicMemory.load(folder / "memory.npz")
        if "cortical.zip" in finished[index]["manifest"]:
            # SB3's zip unpickles some entries: only files this run wrote and that match their
            # SHA-256 in the sealed manifest get here
            self.learner.load(folder / "cortical.zip")
            self.learner.model.set_logger(logger)
        self.strategy.load_state_dict(torch.load(folder / "strategy.pt", weights_only=True))
        novelty.load_state_dict(finished[-1]["novelty"])
        print(f"motorsleep: resuming {self.run_dir} after phase {len(finished) - 1} "
              f"({self.protocol.phases[len(finished) - 1].name})", file=sys.stderr)
        return student, memory

    def _wake(self, phase, index: int, memory: EpisodicMemory, novelty: RunningNovelty, logger,
              phase_seed: int, previous_context: str | None, anchors: dict[str, dict[str, float]]) -> dict:
        contexts = self.strategy.wake_contexts(phase.context, self.tasks)
        venv = make_vec(self.family, contexts, self.learner.n_envs, phase_seed)
        if self.learner.model is None:
            self.learner.build(venv, self.seed)
            self.learner.model.set_logger(logger)
        else:
            self.learner.set_env(venv, context_changed=phase.context != previous_context)
            self.learner.model.set_random_seed(phase_seed)
        task = self.tasks.index(phase.context)
        callback = MemoryTaggingCallback(memory, task=task, phase=index, novelty=novelty)
        # training-episode returns of the phase's own context (env copies are dealt round-robin)
        own = [i for i in range(self.learner.n_envs) if contexts[i % len(contexts)] == phase.context]
        curve = LearningCurveCallback(envs=own or None)
        name = f"phase {index} ({phase.name})"
        self.strategy.on_wake_start(self.learner, memory, task)
        self.learner.set_wake_penalty(lambda: self.strategy.wake_penalty(self.learner))
        try:
            self.learner.learn(phase.steps, callback=[callback, curve, DivergenceGuard(name)])
        except ValueError as error:  # torch refuses a NaN distribution inside SB3's update
            if self.learner.parameters_finite():
                raise
            raise DivergenceError(f"{name} diverged at step {self.learner.model.num_timesteps}: the policy's "
                                  "parameters are not finite; lower agent.hyperparameters.learning_rate") from error
        finally:
            self.learner.set_wake_penalty(None)
        self.strategy.on_wake_end(self.learner, memory, task)
        return {"context": phase.context, "contexts_stepped": contexts, "steps": phase.steps,
                "tagging_seconds": callback.seconds_tagging,
                "memory_transitions": len(memory), "memory_bytes": memory.nbytes,
                "transitions_tagged": callback.transitions_tagged,
                "curve": curve.curve(**_anchor_args(anchors[phase.context]))}

    def _sleep(self, phase, index: int, student, memory, last_wake: str | None, logger):
        if last_wake is None:
            raise ValueError(f"protocol phase {index} is a sleep before any wake: nothing to consolidate")
        if self.strategy.takes_env_steps and self.learner.model.get_env() is None:
            # a resumed run loads the cortex without its env: the awake control needs the last wake's
            # context back (it reseeds and resets it, so a fresh env gives the same states)
            self.learner.model.set_env(make_vec(self.family, [last_wake], self.learner.n_envs, self.seed + index))
        return self.strategy.sleep(student, memory, self.tasks.index(last_wake), self.learner, self.seed + index,
                                   logger, updates=phase.updates)

    def _sleep_record(self, report) -> dict[str, Any]:
        """What a sleep phase did, for results.json (a strategy without sleep did nothing)."""
        if report is None:
            return {"strategy": self.strategy.name, "skipped": True, "env_steps": 0}
        return {"strategy": self.strategy.name, "skipped": False, "updates": report.updates,
                "replayed_tasks": [self.tasks[t] for t in report.replayed_tasks],
                "final_loss": report.final_loss, "gating": report.gating, "env_steps": report.env_steps,
                "heldout_kl": {self.tasks[t]: v for t, v in report.heldout_kl.items()},
                "loss_curve": report.loss_curve, "gain_curve": report.gain_curve}

    def _anchors(self) -> dict[str, dict[str, float]]:
        """Per context: the baseline (better of random and zero action) and the outside reference."""
        anchors = {}
        for label in self.tasks:
            env = self.family.make_env(label)
            base, _ = baseline_return(env, self.eval_episodes)
            anchors[label] = {"base": base, "reference": reference_return(self.family.family, env, self.eval_episodes)}
            env.close()
        return anchors

    def _test(self, student: SubcorticalPolicy, anchors, after: str) -> dict[str, Any]:
        """Evaluate both policies on every context: one row of each R matrix."""
        row: dict[str, Any] = {"after": after, "cortical": {}, "subcortical": {}}
        policies = {"cortical": self.learner.act, "subcortical": student.act}
        for label in self.tasks:
            env = self.family.make_env(label)
            for name, policy in policies.items():
                result = evaluate(policy, env, self.eval_episodes)
                row[name][label] = {
                    "score": normalised_score(result.mean_return, **_anchor_args(anchors[label])),
                    "return": result.mean_return, "success_rate": result.success_rate}
            env.close()
        return row

    def _checkpoint(self, index: int, phase, student, memory, state: dict[str, Any]) -> Path:
        """Write the phase's files (a test changes nothing, so it writes only its row), then seal."""
        folder = checkpoints.phase_folder(self.run_dir, index, phase.name)
        checkpoints.begin(folder)
        if phase.kind != "test":
            if self.learner.model is not None:
                checkpoints.save_sb3(self.learner.model, folder / "cortical.zip")
            student.save(folder / "subcortical.pt")
            checkpoints.save_tensors(self.strategy.state_dict(), folder / "strategy.pt")
            crash_point(f"{index}:mid_checkpoint")
            memory.save(folder / "memory.npz")
        checkpoints.finish(folder, state)
        return folder

    # -- results ---------------------------------------------------------------------------
    def _results(self, rows, phases, anchors, student: SubcorticalPolicy) -> dict[str, Any]:
        matrices = results.performance_matrices(rows, self.tasks)
        trained = results.trained_rows(self.protocol, self.tasks)
        cortical_params = self.learner.n_actor_parameters
        return {
            "tasks": self.tasks, "contexts": {t: self.family.contexts[t] for t in self.tasks},
            "family": self.family.family, "seed": self.seed,
            "phases": phases, "rows": [row["after"] for row in rows], "trained_rows": trained,
            "R": {p: m.tolist() for p, m in matrices.items()}, "evaluations": rows, "anchors": anchors,
            "metrics": {**results.summarise(matrices, trained, self.tasks, student.n_parameters, cortical_params,
                                           last_learned=_last_wake_context(self.protocol)),
                        "savings": results.savings_by_context(self.protocol, phases)},
            "parameters": {"cortical_actor": cortical_params, "subcortical": student.n_parameters,
                           "cortical_multiply_adds": self.learner.multiply_adds(),
                           "subcortical_multiply_adds": student.multiply_adds()},
            "timings": {p["name"] + f"#{p['index']}": p["seconds"] for p in phases},
            "resources": self.resources,
        }


def _phase_spec(phase) -> dict[str, Any]:
    """What defines a protocol phase, for its cache key."""
    return {"kind": phase.kind, "context": phase.context, "steps": phase.steps, "updates": phase.updates}


def _last_wake_context(protocol: Protocol) -> str | None:
    wakes = [p.context for p in protocol if p.kind == "wake"]
    return wakes[-1] if wakes else None


def _mlp_parameters(widths: list[int]) -> int:
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))


def crash_point(tag: str) -> None:
    """Fault injection for the resume tests: SIGKILL this process at ``tag`` when
    ``MOTORSLEEP_CRASH_AT`` names it (e.g. ``2:mid_checkpoint``). A no-op otherwise."""
    if os.environ.get("MOTORSLEEP_CRASH_AT") == tag:
        os.kill(os.getpid(), signal.SIGKILL)


def _anchor_args(anchor: dict[str, float]) -> dict[str, float]:
    return {"base_return": anchor["base"], "reference_return": anchor["reference"]}


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
