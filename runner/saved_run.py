"""A run directory read back: the task family it trained on and the policies its phases saved.

Tools that show or score a finished (or interrupted) run, such as ``scripts/record.py`` and
``motorsleep evaluate``, rebuild its envs from the run's saved config and load policies from its
sealed phase folders (:mod:`runner.checkpoints`), so nothing is retrained and nothing is guessed.
A policy is scored as the run's test phases score it (:meth:`SavedRun.evaluate`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from agents.cortex import CorticalLearner
from agents.evaluation import evaluate, normalised_score
from agents.reference import context_anchors
from agents.subcortical import SubcorticalPolicy
from envs.contexts import describe_context, resolve_context
from envs.family import TaskFamily
from runner import checkpoints

POLICY_FILES = {"cortical": "cortical.zip", "subcortical": "subcortical.pt"}
CONFIG_FILES = (".hydra/config.yaml", "config.yaml")  # Hydra's copy; a results/ folder keeps it at the top
_FOLDER = re.compile(r"^(\d+)_(.+)$")
#: evaluate()'s first episode seed, read from its signature: the episodes every test phase scores
EVAL_SEED = inspect.signature(evaluate).parameters["seed"].default


@dataclass(frozen=True)
class ContextScore:
    """One saved policy scored on one context, as a test phase scores it (a cell of an R matrix).

    ``score`` is the normalised score (R - R_base) / (R_reference - R_base) of
    :func:`agents.evaluation.normalised_score`, with the anchors of
    :func:`agents.reference.context_anchors` over the same episodes.
    """

    context: str
    description: str
    score: float
    mean_return: float
    success_rate: float
    episodes: int
    seed: int
    returns: tuple[float, ...]


@dataclass(frozen=True)
class SavedPhase:
    """A sealed phase folder that holds at least one policy."""

    index: int
    name: str
    folder: Path
    policies: tuple[str, ...]

    @property
    def key(self) -> str:
        """The folder name, e.g. ``02_sleep``: unique where ``name`` may repeat."""
        return self.folder.name


class SavedRun:
    """The family, contexts and per-phase policies of the run in ``run_dir``.

    Raises ``FileNotFoundError`` if the directory has no saved config (checked first, as it
    costs nothing); phases whose files do not match their manifest are left out.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        if not self.run_dir.is_dir():
            raise FileNotFoundError(f"{self.run_dir} is not a directory: expected a run directory made by "
                                    "`motorsleep run` or scripts/run.py")
        configs = [self.run_dir / name for name in CONFIG_FILES if (self.run_dir / name).is_file()]
        if not configs:
            raise FileNotFoundError(f"{self.run_dir} has no saved config ({' or '.join(CONFIG_FILES)}): "
                                    "expected a run directory made by `motorsleep run` or scripts/run.py")
        config = OmegaConf.load(configs[0])
        self.family: TaskFamily = instantiate(config.env, _convert_="all")
        self.algorithm: str = str(config.agent.algorithm)
        # who acted in wake (agents/controller.py); runs made before the option existed: the cortex
        self.controller = config.get("controller", {"_target_": "agents.controller.CortexController"})
        self.eval_episodes = int(config.eval_episodes)  # what its test phases played
        self.torch_threads = int(config.torch_threads)  # and with how many torch threads
        self.phases = self._sealed_phases()

    def _sealed_phases(self) -> list[SavedPhase]:
        phases = []
        folders = sorted((self.run_dir / "phases").glob("*_*")) if (self.run_dir / "phases").is_dir() else []
        for folder in folders:
            match = _FOLDER.match(folder.name)
            # a kept copy may hold only some files (e.g. results/strip_run): those present must verify
            state = checkpoints.verified_state(folder, missing_ok=True) if match else None
            if state is None:
                continue
            policies = tuple(p for p, file in POLICY_FILES.items()
                             if file in state["manifest"] and (folder / file).is_file())
            if policies:
                phases.append(SavedPhase(int(match.group(1)), match.group(2), folder, policies))
        return phases

    # -- validation: cheap, and each error names the field and what is allowed ---------------
    def phase(self, key: int | str | None = None) -> SavedPhase:
        """The phase with index ``key``, folder name (``02_sleep``) or unique name (``wake_A``);
        the last one that saved a policy when ``key`` is None."""
        if not self.phases:
            raise ValueError(f"{self.run_dir} has no finished phase with a saved policy "
                             f"(expected {self.run_dir / 'phases'}/NN_name/ with {' or '.join(POLICY_FILES.values())})")
        if key is None:
            return self.phases[-1]
        text = str(key)
        found = [p for p in self.phases if text in (str(p.index), p.key, p.name)]
        if len(found) == 1:
            return found[0]
        if found:
            raise ValueError(f"phase={text!r} names several phases ({', '.join(p.key for p in found)}): "
                             "give the index or the folder name")
        raise ValueError(f"phase={text!r} is not allowed: phases with a saved policy are "
                         f"{', '.join(p.key for p in self.phases)} (index, folder or name)")

    def label(self, context: str | Mapping[str, Any]) -> str:
        """The protocol label of ``context``, given as a label (``A``) or the preset name (``curl_cw``)
        or fields it stands for."""
        contexts = self.family.contexts
        if isinstance(context, str) and context in contexts:
            return context
        named = [label for label, value in contexts.items() if value == context]
        if len(named) == 1:
            return named[0]
        raise ValueError(f"context={context!r} is not allowed: this run's contexts are {_described(self.family)}")

    @staticmethod
    def check_policy(phase: SavedPhase, policy: str) -> None:
        if policy not in POLICY_FILES:
            raise ValueError(f"policy={policy!r} is not allowed: expected one of {sorted(POLICY_FILES)}")
        if policy not in phase.policies:
            raise ValueError(f"policy={policy!r} is not allowed for phase {phase.key}: it saved {list(phase.policies)}")

    # -- loading ---------------------------------------------------------------------------
    def load_policy(self, phase: SavedPhase, policy: str, obs_dim: int) -> Callable[[np.ndarray], np.ndarray]:
        """The deterministic policy (obs -> action) that ``phase`` saved, as evaluation uses it.

        ``obs_dim`` is the size of the env's observations: a policy made for another size
        (a config edited after the run) is refused here rather than failing mid-episode.
        """
        self.check_policy(phase, policy)
        path = phase.folder / POLICY_FILES[policy]
        if policy == "cortical":
            # SB3's zip unpickles some entries: only files that matched their sealed manifest get here
            learner = CorticalLearner(algorithm=self.algorithm)
            model = learner.load(path)
            expected = model.observation_space.shape[0]
            act = self._wake_controller(phase, model.action_space).policy(learner)
        else:
            student = SubcorticalPolicy.load(path)
            expected, act = student.obs_dim, student.act
        if expected != obs_dim:
            raise ValueError(f"the {policy} policy of {phase.key} takes observations of size {expected}, but this "
                             f"run's env gives {obs_dim}: was {self.run_dir}'s config changed after the run?")
        return act

    def _wake_controller(self, phase: SavedPhase, action_space):
        """The run's wake controller as ``phase`` left it: ``cortical`` scores are its behaviour
        (under ``controller=residual``, the saved base command plus the cortex's correction)."""
        controller = instantiate(self.controller)
        state = phase.folder / "controller.pt"
        if state.is_file():
            controller.load_state_dict(torch.load(state, weights_only=True))
        elif controller.writes_back:
            raise ValueError(f"{phase.key} has no controller.pt: a {controller.name} run's behaviour needs its base")
        controller.start(None, action_space.low, action_space.high)
        return controller

    # -- any context of the family ---------------------------------------------------------
    def context_family(self, context: str | Mapping[str, Any]) -> tuple[TaskFamily, str]:
        """The task family whose env ``context`` names, and the context's label in it.

        One of the run's own contexts (a label such as ``A``, or the preset name or fields it
        stands for) gives the run's family, cue included. Any other context of the family (a
        preset name such as ``rot_plus30``, or a dict of fields) gives a one-context family with
        the run's env keywords: only for a run without a cue, whose policies see no context index.
        """
        try:
            return self.family, self.label(context)
        except ValueError as not_own:
            if self.family.context_cue:
                raise ValueError(f"{not_own}; its policies read a context cue, which only these have") from None
        try:
            resolve_context(self.family.family, context)
        except ValueError as error:
            raise ValueError(f"{error}; or one of this run's contexts: {_described(self.family)}") from None
        name = context if isinstance(context, str) else describe_context(context)
        return TaskFamily(self.family.family, {name: context}, context_cue=False,
                          env_kwargs=self.family.env_kwargs), name

    def make_env(self, context: str | Mapping[str, Any] | None = None, **overrides: Any):
        """The env of ``context`` as this run's policies see it (default: the run's first context);
        ``overrides`` are further constructor keywords, e.g. ``render_mode="rgb_array"``."""
        family, label = self.context_family(self.family.labels[0] if context is None else context)
        return family.make_env(label, **overrides)

    # -- scores ------------------------------------------------------------------------------
    def evaluate(self, policy: str = "cortical", phase: int | str | None = None,
                 contexts: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | None = None,
                 episodes: int | None = None, seed: int = EVAL_SEED) -> dict[str, ContextScore]:
        """Score ``policy`` of ``phase`` (default: the last that saved one) on ``contexts``
        (default: the run's own), over ``episodes`` (default: as many as its test phases played)
        from ``seed``, with the run's torch thread count: with the defaults, a policy of phase
        ``wake_A`` scores exactly what the test after ``wake_A`` recorded in ``results.json``.

        A bad argument raises ``ValueError`` naming it and what is allowed, before any episode.
        """
        return self.evaluation(policy, phase, contexts, episodes, seed)()

    def evaluation(self, policy: str = "cortical", phase: int | str | None = None,
                   contexts: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] | None = None,
                   episodes: int | None = None, seed: int = EVAL_SEED) -> Callable[[], dict[str, ContextScore]]:
        """:meth:`evaluate` in two steps: this one checks every argument and loads the policy
        (``ValueError`` for a bad argument), the function it returns plays the episodes, so that a
        command line can tell a user's bad input from a failure while scoring."""
        episodes = self.eval_episodes if episodes is None else episodes
        for name, value, least in (("episodes", episodes, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
                raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= {least}")
        saved = self.phase(phase)
        self.check_policy(saved, policy)
        if contexts is None:
            contexts = self.family.labels
        elif isinstance(contexts, str | Mapping):
            contexts = [contexts]
        if not contexts:
            raise ValueError(f"contexts={contexts!r} is not allowed: expected at least one context")
        targets = [self.context_family(context) for context in contexts]
        probe = targets[0][0].make_env(targets[0][1])
        try:  # every context here gives observations of one size: the run's own, or cue-less ones
            act = self.load_policy(saved, policy, probe.observation_space.shape[0])
        finally:
            probe.close()
        return functools.partial(self._scores, act, targets, int(episodes), int(seed))

    def _scores(self, act: Callable[[np.ndarray], np.ndarray], targets: list[tuple[TaskFamily, str]],
                episodes: int, seed: int) -> dict[str, ContextScore]:
        scores = {}
        with _torch_threads(self.torch_threads):  # the count the run scored with: same floating-point sums
            for family, label in targets:
                env = family.make_env(label)
                try:
                    result = evaluate(act, env, episodes, seed)
                finally:
                    env.close()
                anchor = context_anchors(family, label, episodes, seed)
                scores[label] = ContextScore(
                    label, describe_context(family.contexts[label]),
                    normalised_score(result.mean_return, anchor["base"], anchor["reference"]),
                    result.mean_return, result.success_rate, episodes, seed, result.returns)
        return scores


def _described(family: TaskFamily) -> str:
    """The family's contexts as a message lists them: ``A (curl_field=30), B (curl_field=-30)``."""
    return ", ".join(f"{label} ({describe_context(value)})" for label, value in family.contexts.items())


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
