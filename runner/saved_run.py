"""A run directory read back: the task family it trained on and the policies its phases saved.

Tools that show a finished (or interrupted) run, such as ``scripts/record.py``, rebuild its
envs from the run's saved config and load policies from its sealed phase folders
(:mod:`runner.checkpoints`), so nothing is retrained and nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf

from agents.cortex import CorticalLearner
from agents.subcortical import SubcorticalPolicy
from envs.contexts import describe_context
from envs.family import TaskFamily
from runner import checkpoints

POLICY_FILES = {"cortical": "cortical.zip", "subcortical": "subcortical.pt"}
CONFIG_FILES = (".hydra/config.yaml", "config.yaml")  # Hydra's copy; a results/ folder keeps it at the top
_FOLDER = re.compile(r"^(\d+)_(.+)$")


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
        configs = [self.run_dir / name for name in CONFIG_FILES if (self.run_dir / name).is_file()]
        if not configs:
            raise FileNotFoundError(f"{self.run_dir} has no saved config ({' or '.join(CONFIG_FILES)}): "
                                    "expected a run directory made by scripts/run.py")
        config = OmegaConf.load(configs[0])
        self.family: TaskFamily = instantiate(config.env, _convert_="all")
        self.algorithm: str = str(config.agent.algorithm)
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

    def label(self, context: str) -> str:
        """The protocol label of ``context``, given as a label (``A``) or a preset name (``curl_cw``)."""
        contexts = self.family.contexts
        if context in contexts:
            return context
        named = [label for label, value in contexts.items() if value == context]
        if len(named) == 1:
            return named[0]
        allowed = ", ".join(f"{label} ({describe_context(value)})" for label, value in contexts.items())
        raise ValueError(f"context={context!r} is not allowed: this run's contexts are {allowed}")

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
            expected = learner.load(path).observation_space.shape[0]
            act = learner.act
        else:
            student = SubcorticalPolicy.load(path)
            expected, act = student.obs_dim, student.act
        if expected != obs_dim:
            raise ValueError(f"the {policy} policy of {phase.key} takes observations of size {expected}, but this "
                             f"run's env gives {obs_dim}: was {self.run_dir}'s config changed after the run?")
        return act
