"""One experiment: an agent lives through a protocol of wake, sleep and test phases, and is scored.

This is where the parts meet: the task family's envs, the cortical learner with its memory
tagging callback, the episodic memory, the strategy's sleep, and evaluation into the
performance matrices R (cortical and subcortical). :meth:`Experiment.run` is the schedule;
where each phase comes from (this run directory, the shared cache, or computing it) and where
it goes (a sealed checkpoint) is :class:`runner.phase_store.PhaseStore`'s job, wrapped around
each phase. The run ends with ``results.json``.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.utils import set_random_seed

from agents.controller import CortexController
from agents.cortex import CorticalLearner
from agents.evaluation import evaluate, normalised_score
from agents.guards import DivergenceError, DivergenceGuard
from agents.reference import context_anchors
from agents.subcortical import SubcorticalPolicy
from consolidation import results
from consolidation.curves import LearningCurveCallback
from consolidation.memory import EpisodicMemory
from consolidation.novelty import ForwardModelNovelty
from consolidation.protocol import Phase, Protocol
from consolidation.strategies.base import STRATEGIES, Strategy
from consolidation.tagging import MemoryTaggingCallback
from consolidation.wake_gating import WakeGating
from envs.family import TaskFamily
from envs.vector import make_vec
from fileio import write_json_atomic
from runner import preflight
from runner.cache import PhaseCache
from runner.logs import RunLogger, phase_offset, wandb_missing
from runner.phase_store import PhaseStore
from runner.progress import Progress, WakeProgress, run_log, say
from runner.run_dir import RunDirectory

#: SB3's logger outputs (stable_baselines3.common.logger.make_output_format).
LOG_FORMATS = ("stdout", "log", "json", "csv", "tensorboard", "wandb")


class Experiment:
    """Wire a task family, a cortical learner, a subcortical student, a strategy and a protocol.

    Build one with :func:`runner.build.build_experiment` (from config overrides), which also
    gives it its config identity; constructing it by hand is for tests and notebooks.

    Args:
        env, agent, consolidation, protocol: the instantiated config options.
        student_hidden: hidden layers of the subcortical policy.
        eval_episodes: evaluation episodes per (policy, context) in every test.
        seed: seeds numpy, torch, the envs and the learner.
        run_dir: where checkpoints, logs and results go.
        log_formats: SB3 logger outputs (``log`` writes its stdout table to a file; ``wandb``, the
            optional extra, sends them to Weights & Biases: runner/logs.py).
        torch_threads: torch CPU threads (fixed: results are reproducible for a given count).
        cache: the shared-phase cache (None or disabled: every phase is computed).
        identity: what in the run's config can change a result (:func:`runner.identity.run_identity`):
            recorded in the run directory, checked on resume, and the phase cache's key. Required
            when the cache is enabled.
        config_files: files describing the run (relative path -> text, e.g. the composed config),
            written into the run directory once its identity is checked.
        resume: what to do with a run directory made by another config (:class:`runner.run_dir.RunDirectory`):
            ``check`` refuses it, ``accept`` resumes it anyway.
        novelty: the novelty model's factory (a ``novelty`` config option), called with the
            cue's dimensions (``ignore_dims``) when the agent wakes up.
        controller: who acts in wake and how sleep reaches behaviour (a ``controller`` config
            option, :mod:`agents.controller`); None is the cortex alone.
        memory: the episodic memory's factory (a ``memory`` config option: per-task reservoirs,
            or one shared store that fades), called with the env's dimensions and the seed; None
            is per-task reservoirs of 20,000 transitions.
        wake_gating: the neuromodulation of the cortex's learning rate in wake (a ``wake_gating``
            config option); None is off.
        progress: the progress lines of each phase (the ``progress`` node; None: the defaults
            of :class:`runner.progress.Progress`).
    """

    def __init__(self, env: TaskFamily, agent: CorticalLearner, consolidation: Strategy, protocol: Protocol,
                 student_hidden: list[int], eval_episodes: int, seed: int,
                 run_dir: str | Path, log_formats: list[str] | None = None, torch_threads: int = 1,
                 cache: PhaseCache | None = None, identity: dict[str, Any] | None = None,
                 config_files: dict[str, str] | None = None, resume: str = "check",
                 novelty: Callable[..., Any] = ForwardModelNovelty, wake_gating: WakeGating | None = None,
                 memory: Callable[..., EpisodicMemory] | None = None,
                 controller: CortexController | None = None, progress: Progress | None = None) -> None:
        self.family, self.learner, self.strategy = env, agent, consolidation
        self.make_novelty = novelty
        self.make_memory = memory if memory is not None else functools.partial(EpisodicMemory, capacity_per_task=20_000)
        self.controller = controller if controller is not None else CortexController()
        self.progress = progress if progress is not None else Progress()
        self.wake_gating = wake_gating if wake_gating is not None else WakeGating()
        self.protocol = protocol.with_sleep_updates(consolidation.sleep_updates)
        self.student_hidden = [int(h) for h in student_hidden]
        self.eval_episodes, self.seed = int(eval_episodes), int(seed)
        self.log_formats = list(log_formats or ["log", "csv", "tensorboard"])
        self.torch_threads = int(torch_threads)
        self.cache = cache if cache is not None and cache.enabled else None
        if self.cache is not None and identity is None:
            raise ValueError("cache.enabled=true needs the run's config identity: build the experiment with "
                             "runner.build.build_experiment, or pass cache=None")
        self.identity = identity
        self.run_directory = RunDirectory(run_dir, identity, config_files or {}, resume)
        self.run_dir = self.run_directory.path
        self.tasks = self.protocol.contexts
        self._validate()

    def _validate(self) -> None:
        """Cross-field rules, checked before any training (single fields check themselves)."""
        for name, value in (("eval_episodes", self.eval_episodes), ("torch_threads", self.torch_threads)):
            if value < 1:
                raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 1")
        # numpy takes seeds in [0, 2**32); each phase is seeded with seed * 1000 + its index
        largest = (2**32 - len(self.protocol.phases)) // 1000
        if not 0 <= self.seed <= largest:
            raise ValueError(f"seed={self.seed} is not allowed: expected an integer >= 0 and <= {largest}")
        unknown = [f for f in self.log_formats if f not in LOG_FORMATS]
        if unknown:
            raise ValueError(f"log_formats={self.log_formats} is not allowed: {unknown} unknown, expected "
                             f"some of {list(LOG_FORMATS)}")
        if "wandb" in self.log_formats and wandb_missing():
            raise ValueError(f"log_formats={self.log_formats} is not allowed here: {wandb_missing()}")
        for index, phase in enumerate(self.protocol.phases):
            if phase.kind == "wake" and phase.context not in self.family.contexts:
                raise ValueError(f"protocol.phases[{index}].context={phase.context!r} is not defined: "
                                 f"env.contexts has {self.family.labels}")
            if phase.kind == "sleep" and self.protocol.last_wake_before(index) is None:
                raise ValueError(f"protocol.phases[{index}] is a sleep before any wake: nothing to consolidate")
        gating = getattr(getattr(self.strategy, "settings", None), "gating", None)
        if getattr(gating, "td_source", "stored") == "recomputed" and self.learner.algorithm != "ppo":
            raise ValueError(f"consolidation.gating.td_source='recomputed' is not allowed with agent.algorithm="
                             f"{self.learner.algorithm!r}: recomputing TD errors needs PPO's state-value critic "
                             "(expected agent.algorithm='ppo' or td_source='stored')")
        if not self.controller.plain:
            if self.learner.algorithm != "ppo":
                raise ValueError(f"controller={self.controller.name!r} is not allowed with agent.algorithm="
                                 f"{self.learner.algorithm!r}: expected agent.algorithm='ppo' (or controller='cortex')")
            if not self.strategy.acts_through_teacher:
                raise ValueError(f"consolidation={self.strategy.name!r} is not allowed with controller="
                                 f"{self.controller.name!r}: it reads or steps the cortex alone; expected one of "
                                 f"{sorted(n for n, c in STRATEGIES.items() if c.acts_through_teacher)} "
                                 "(or controller='cortex')")
        obs_dim, action_dim, _ = self._dimensions()
        self.memory = self.make_memory(obs_dim=obs_dim, action_dim=action_dim, seed=self.seed)  # checks its settings
        student = _mlp_parameters([obs_dim, *self.student_hidden, action_dim]) + action_dim
        teacher = _mlp_parameters([obs_dim, *self.learner.net_arch, action_dim]) + action_dim
        if student > teacher:
            raise ValueError(f"student_hidden={self.student_hidden!r} gives a subcortical policy of {student:,} "
                             f"parameters, larger than the cortical actor's {teacher:,} (agent.net_arch="
                             f"{self.learner.net_arch}): expected a student no larger than its teacher")

    # -- the schedule ------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Live through the protocol, resuming after the last finished phase of an earlier
        attempt in the same run directory, and write ``results.json``."""
        preflight.check_run_dir(self.run_dir)  # before anything is written: the directories can be
        preflight.check_cache(self.cache)      # written, or the run stops here saying what to change
        attempt = self.run_directory.open(self.seed)  # refuses a run directory made by another config
        with run_log(self.run_dir):
            self._wake_up(attempt)
            try:
                store = PhaseStore(self)
                for index, phase in enumerate(self.protocol):
                    store.phase(index, phase, self.live)
                outcome = self._results(store.rows, store.records)
                write_json_atomic(self.run_dir / "results.json", outcome)
            finally:
                self.logger.finish()  # ends a W&B run (SB3's own outputs flush at every dump)
        return outcome

    def live(self, index: int, phase: Phase) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Live through one phase: its record, and its test row (None unless a test)."""
        set_random_seed(self._phase_seed(index))  # each phase from a seed of its own: a resumed phase replays
        record: dict[str, Any] = {"index": index, "kind": phase.kind, "name": phase.name}
        env_steps = 0 if self.learner.model is None else self.learner.model.num_timesteps
        self.logger.enter(index, phase, phase_offset(self.protocol.phases, index, env_steps))
        if phase.kind == "wake":
            return {**record, **self._wake(phase, index)}, None
        if phase.kind == "sleep":
            return {**record, **self._sleep(phase, index)}, None
        after = self.protocol.phases[index - 1].name if index else "start"
        return record, self._test(after, index)

    def _wake_up(self, attempt: int) -> None:
        """The agent before its first phase: seeds, logger, a fresh student, an empty memory."""
        torch.set_num_threads(self.torch_threads)
        set_random_seed(self.seed)  # Python, numpy and torch
        # a resumed attempt logs beside the first one: SB3's CSV output would overwrite it
        logs = self.run_dir / "logs" if attempt == 0 else self.run_dir / f"logs_resumed_{attempt}"
        self.logger = RunLogger.configure(str(logs), self.log_formats, config=self.identity)
        obs_dim, action_dim, box = self._dimensions()
        self.student = SubcorticalPolicy(obs_dim, action_dim, self.student_hidden,
                                         bounded_mean=self.learner.bounded_mean,
                                         squash=self.learner.algorithm == "sac")
        self.memory = self.make_memory(obs_dim=obs_dim, action_dim=action_dim, seed=self.seed)
        self.novelty = self.make_novelty(ignore_dims=self.family.cue_dims(obs_dim))
        self.controller.start(self.student, box.low, box.high)
        self._check_resources(obs_dim, action_dim)
        self.anchors = self._anchors()

    def _phase_seed(self, index: int) -> int:
        return self.seed * 1000 + index

    # -- wake, sleep, test -------------------------------------------------------------------
    def _wake(self, phase: Phase, index: int) -> dict[str, Any]:
        """The cortex learns ``phase.context``; its experience is tagged into the memory."""
        contexts = self.strategy.wake_contexts(phase.context, self.tasks)
        venv = self.controller.wake_env(make_vec(self.family, contexts, self.learner.n_envs, self._phase_seed(index)))
        if self.learner.model is None:
            self.learner.build(venv, self.seed)
            self.learner.model.set_logger(self.logger)
        else:
            self.learner.set_env(venv, context_changed=phase.context != self.protocol.last_wake_before(index))
            self.learner.model.set_random_seed(self._phase_seed(index))
        task = self.tasks.index(phase.context)
        callback = MemoryTaggingCallback(self.memory, task=task, phase=index, novelty=self.novelty)
        # training-episode returns of the phase's own context (env copies are dealt round-robin)
        own = [i for i in range(self.learner.n_envs) if contexts[i % len(contexts)] == phase.context]
        curve = LearningCurveCallback(envs=own or None)
        name = f"phase {index} ({phase.name})"
        anchor = _anchor_args(self.anchors[phase.context])
        progress = WakeProgress(self.progress, name, phase.steps,
                                lambda: normalised_score(curve.returns[-1], **anchor) if curve.returns else None)
        self.strategy.on_wake_start(self.learner, self.memory, task)
        self.learner.set_wake_penalty(lambda: self.strategy.wake_penalty(self.learner))
        # after the tagging callback, so that a callback reading the memory sees each rollout's rows
        online = self.strategy.wake_callbacks(self.controller.teacher(self.learner), self.memory, task, self.student,
                                              self.protocol.sleep_updates_after(index), phase.steps,
                                              self._phase_seed(index))
        try:
            gating = [self.wake_gating.callback(callback)] if self.wake_gating.active else []
            self.learner.learn(phase.steps, callback=[callback, *online, *gating, curve, progress,
                                                      DivergenceGuard(name)])
        except ValueError as error:  # torch refuses a NaN distribution inside SB3's update
            if self.learner.policy_finite():
                raise
            raise DivergenceError(f"{name} diverged at step {self.learner.model.num_timesteps}: the policy's "
                                  "parameters or its action std are not finite; lower "
                                  "agent.hyperparameters.learning_rate") from error
        finally:
            self.learner.set_wake_penalty(None)
            self.progress.close()
        self.strategy.on_wake_end(self.learner, self.memory, task)
        return {"context": phase.context, "contexts_stepped": contexts, "steps": phase.steps,
                "tagging_seconds": callback.seconds_tagging,
                "memory_transitions": len(self.memory), "memory_bytes": self.memory.nbytes,
                "transitions_tagged": callback.transitions_tagged, "wake_gating": self.wake_gating.state_dict(),
                "curve": curve.curve(**anchor),
                **({"online": [c.record() for c in online]} if online else {})}

    def _sleep(self, phase: Phase, index: int) -> dict[str, Any]:
        """The strategy's offline phase on the task of the last wake (no env step, but for the awake control)."""
        last_wake = self.protocol.last_wake_before(index)
        if self.strategy.takes_env_steps and self.learner.model.get_env() is None:
            # a resumed run loads the cortex without its env: the awake control needs the last wake's
            # context back (it reseeds and resets it, so a fresh env gives the same states)
            self.learner.model.set_env(make_vec(self.family, [last_wake], self.learner.n_envs, self.seed + index))
        teacher = self.controller.teacher(self.learner)
        self.progress.start(f"phase {index} ({phase.name})", phase.updates or 0, "updates")
        # a strategy dumps its log after update u (from 0), the loss among what it recorded
        self.logger.on_dump = lambda update, values: self.progress.update(update + 1, _loss_note(values))
        try:
            report = self.strategy.sleep(self.student, self.memory, self.tasks.index(last_wake), teacher,
                                         self.seed + index, updates=phase.updates, logger=self.logger)
        finally:
            self.logger.on_dump = None
            self.progress.close()
        if report is not None:
            self.progress.finish(report.updates, _loss_note({"sleep/loss": report.final_loss}))
        # the write-back, if any; the tasks the student was trained on (an awake control's slot
        # replays nothing itself: its student drew on every task the memory holds)
        replayed = (report.replayed_tasks if report is not None else []) or self.memory.tasks
        written = self.controller.after_sleep(self.learner, self.student, self.memory, replayed)
        if report is None:  # a strategy without sleep did nothing
            return {"strategy": self.strategy.name, "skipped": True, "env_steps": 0, **written}
        return {"strategy": self.strategy.name, "skipped": False, "updates": report.updates, **written,
                "replayed_tasks": [self.tasks[t] for t in report.replayed_tasks],
                "final_loss": report.final_loss, "gating": report.gating, "env_steps": report.env_steps,
                "heldout_kl": {self.tasks[t]: v for t, v in report.heldout_kl.items()},
                "loss_curve": report.loss_curve, "gain_curve": report.gain_curve}

    def _test(self, after: str, index: int) -> dict[str, Any]:
        """Evaluate both policies on every context: one row of each R matrix, logged as
        ``test/<policy>/<context>`` and said in one line."""
        row: dict[str, Any] = {"after": after, "cortical": {}, "subcortical": {}}
        policies = {"cortical": self.controller.policy(self.learner), "subcortical": self.student.act}
        for label in self.tasks:
            env = self.family.make_env(label)
            for name, policy in policies.items():
                result = evaluate(policy, env, self.eval_episodes)
                row[name][label] = {
                    "score": normalised_score(result.mean_return, **_anchor_args(self.anchors[label])),
                    "return": result.mean_return, "success_rate": result.success_rate}
            env.close()
        for name in policies:
            for label in self.tasks:
                self.logger.record(f"test/{name}/{label}", row[name][label]["score"])
        self.logger.dump(0)
        self.progress.line(f"phase {index} ({self.protocol.phases[index].name})", "; ".join(
            f"{name} " + ", ".join(f"{label} {row[name][label]['score']:.2f}" for label in self.tasks)
            for name in policies))
        return row

    def _anchors(self) -> dict[str, dict[str, float]]:
        """Per context: the baseline (better of random and zero action) and the outside reference."""
        return {label: context_anchors(self.family, label, self.eval_episodes) for label in self.tasks}

    # -- around the phases -------------------------------------------------------------------
    def _dimensions(self):
        """The observation's and action's sizes and the action box the agent acts in, from one probe env."""
        probe = self.family.make_env(self.tasks[0])
        dims = probe.observation_space.shape[0], probe.action_space.shape[0], probe.action_space
        probe.close()
        return dims

    def _check_resources(self, obs_dim: int, action_dim: int) -> None:
        """Warn before any work if the memory (RAM) or the checkpoints (disk) may not fit."""
        per_transition = 4 * (obs_dim + 3 * action_dim + 3) + 4 + 8  # float32 fields, phase, step
        memory_bytes = self.memory.max_transitions(len(self.tasks)) * per_transition
        saving_phases = sum(p.kind != "test" for p in self.protocol)
        actor = _mlp_parameters([obs_dim, *self.learner.net_arch, action_dim])
        model_bytes = 4 * 3 * 3 * actor  # actor + critic, with two Adam moments each, float32
        disk_bytes = saving_phases * (memory_bytes + model_bytes)
        free_disk = shutil.disk_usage(self.run_dir if self.run_dir.exists() else self.run_dir.parent).free
        free_ram = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        self.resources = {"memory_bytes_max": memory_bytes, "checkpoint_bytes_estimate": disk_bytes,
                          "free_disk_bytes": free_disk, "free_ram_bytes": free_ram}
        if memory_bytes > 0.5 * free_ram:
            say(f"motorsleep: warning: the episodic memory may reach {memory_bytes / 2**30:.1f} GiB "
                f"({self.memory.max_transitions(len(self.tasks)):,} transitions), over half of the "
                f"{free_ram / 2**30:.1f} GiB of free RAM")
        if disk_bytes > free_disk:
            say(f"motorsleep: warning: checkpoints may need {disk_bytes / 2**30:.1f} GiB in {self.run_dir}, "
                f"more than the {free_disk / 2**30:.1f} GiB free")

    def _results(self, rows, phases) -> dict[str, Any]:
        matrices = results.performance_matrices(rows, self.tasks)
        trained = results.trained_rows(self.protocol, self.tasks)
        cortical_params = self.learner.n_actor_parameters
        return {
            "tasks": self.tasks, "contexts": {t: self.family.contexts[t] for t in self.tasks},
            "family": self.family.family, "seed": self.seed, "controller": self.controller.name,
            "phases": phases, "rows": [row["after"] for row in rows], "trained_rows": trained,
            "R": {p: m.tolist() for p, m in matrices.items()}, "evaluations": rows, "anchors": self.anchors,
            "metrics": {**results.summarise(matrices, trained, self.tasks, self.student.n_parameters, cortical_params,
                                           last_learned=self.protocol.last_wake_before(len(self.protocol))),
                        "savings": results.savings_by_context(self.protocol, phases)},
            "parameters": {"cortical_actor": cortical_params, "subcortical": self.student.n_parameters,
                           "cortical_multiply_adds": self.learner.multiply_adds(),
                           "subcortical_multiply_adds": self.student.multiply_adds()},
            "timings": {p["name"] + f"#{p['index']}": p["seconds"] for p in phases},
            "resources": self.resources,
        }


def _mlp_parameters(widths: list[int]) -> int:
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))


def _loss_note(values: dict[str, Any]) -> str:
    loss = values.get("sleep/loss")
    return "" if loss is None else f"loss {loss:.4g}"


def _anchor_args(anchor: dict[str, float]) -> dict[str, float]:
    return {"base_return": anchor["base"], "reference_return": anchor["reference"]}

