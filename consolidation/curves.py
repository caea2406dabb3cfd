"""Learning curves during wake: the learner's recent training-episode return against the steps
taken since the phase began, recorded by an SB3 callback and turned into normalised scores.

These are scores of the *training* episodes, played by the stochastic policy while it learns
(exploration noise included), not evaluations of the deterministic policy on fixed seeds as
in R: they sit below the test rows and are noisier. They answer "how fast was this context
learned in this wake", which is what savings (consolidation/metrics.py) compares.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from agents.evaluation import normalised_score


class LearningCurveCallback(BaseCallback):
    """Record the mean return of the last ``window`` training episodes of this wake phase.

    A point is recorded at every rollout end of an on-policy learner (PPO) and every ``every``
    steps of an off-policy one (SAC), plus one at the end of training if steps were taken since
    the last point; a point needs at least one finished episode, so the curve starts at the
    first rollout (or ``every`` steps) that ends an episode. Steps count from the start of the
    phase, so curves of different phases compare like with like.

    The episodes are read from the Monitor ``episode`` entries of the step infos, as SB3 fills
    its own ``ep_info_buffer``, but only those finished in this phase: the model's buffer keeps
    the previous phase's episodes across ``learn`` calls and is not saved in SB3's zip, so a
    resumed run would see different means. The callback only reads; it uses no random numbers
    and changes nothing in training.

    Args:
        window: episodes averaged per point (the most recent ones of this phase).
        every: steps between points for off-policy learners (on-policy: one per rollout).
        envs: indices of the vec env copies whose episodes count (None: all); a wake that
            steps several contexts together counts only the copies of the phase's context.
    """

    def __init__(self, window: int = 20, every: int = 1000, envs: Iterable[int] | None = None,
                 verbose: int = 0) -> None:
        super().__init__(verbose)
        if int(window) < 1 or int(every) < 1:
            raise ValueError(f"window={window!r}, every={every!r}: expected integers >= 1")
        self.window, self.every = int(window), int(every)
        self.envs = None if envs is None else frozenset(int(i) for i in envs)
        self.steps: list[int] = []
        self.returns: list[float] = []
        self.episodes = 0
        self._recent: deque[float] = deque(maxlen=self.window)
        self._start = 0
        self._on_policy = True

    def _on_training_start(self) -> None:
        self._start = int(self.model.num_timesteps)
        self._on_policy = isinstance(self.model, OnPolicyAlgorithm)

    def _on_step(self) -> bool:
        for i, info in enumerate(self.locals.get("infos", ())):
            episode = info.get("episode")
            if episode is not None and (self.envs is None or i in self.envs):
                self._recent.append(float(episode["r"]))
                self.episodes += 1
        if not self._on_policy and self._elapsed() - (self.steps[-1] if self.steps else 0) >= self.every:
            self._record()
        return True

    def _on_rollout_end(self) -> None:
        if self._on_policy:
            self._record()

    def _on_training_end(self) -> None:
        self._record()

    def _elapsed(self) -> int:
        return int(self.model.num_timesteps) - self._start

    def _record(self) -> None:
        step = self._elapsed()
        if not self._recent or (self.steps and step <= self.steps[-1]):
            return
        self.steps.append(step)
        self.returns.append(float(np.mean(self._recent)))

    def curve(self, base_return: float, reference_return: float) -> dict[str, list]:
        """The curve for a phase record: ``steps`` since the phase began, normalised ``score``
        ((R - R_base) / (R_reference - R_base), as in R) and the raw mean ``return``."""
        return {"steps": list(self.steps),
                "score": [normalised_score(r, base_return, reference_return) for r in self.returns],
                "return": list(self.returns), "window": self.window, "episodes": self.episodes}
