"""A task family as a protocol sees it: labelled contexts (A, B, ...) of one env, with an optional cue.

This is the ``env`` config option: it names the family, maps protocol labels to contexts,
and builds the envs of each context, cue included, so the rest of the code never needs to
know which family it runs. The agent always acts in the box [-1, 1]: a family whose actions
live elsewhere (the muscle arm's excitations in [0, 1]) is seen through gymnasium's
``RescaleAction``, so that the policies' bounded means, the student's and the residual
controller's correction span exactly the env's range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium.wrappers import RescaleAction

from envs import FAMILY_MAX_STEPS, REGISTERED_IDS
from envs.checks import check_flag
from envs.contexts import resolve_context

BASE_IDS = {"reach": "motorsleep/Reach-v0", "muscle_reach": "motorsleep/MuscleReach-v0",
            "balance": "motorsleep/Balance-v0", "stand": "motorsleep/Stand-v0"}


class TaskFamily:
    """Contexts of one family under protocol labels, e.g. {"A": "curl_cw", "B": "curl_ccw"}.

    Args:
        family: ``reach``, ``muscle_reach``, ``balance`` or ``stand``.
        contexts: label -> context (preset name or dict of context fields). The order of the
            labels gives each context's cue index.
        context_cue: append a one-hot of the context index to observations.
        uncued: labels whose observations carry no cue (the one-hot's slots at zero): contexts the
            agent is not told about, such as a washout block, when ``context_cue`` is on.
        env_kwargs: further constructor keywords of the env (e.g. ``n_targets``).
    """

    def __init__(self, family: str, contexts: Mapping[str, Any], context_cue: bool = True,
                 env_kwargs: Mapping[str, Any] | None = None, uncued: list[str] | None = None) -> None:
        if family not in BASE_IDS:
            raise ValueError(f"env.family={family!r} is not allowed: expected one of {sorted(BASE_IDS)}")
        if not contexts:
            raise ValueError("env.contexts is empty: expected at least one label -> context, e.g. {A: curl_cw}")
        self.family = family
        self.contexts = {str(label): _plain(ctx) for label, ctx in contexts.items()}
        for label, ctx in self.contexts.items():
            try:
                resolve_context(family, ctx)
            except ValueError as error:
                raise ValueError(f"env.contexts.{label}: {error}") from None
        check_flag(**{"env.context_cue": context_cue})  # the config key, as the other errors here name it
        self.context_cue = bool(context_cue)
        self.env_kwargs = dict(env_kwargs or {})
        self.uncued = [str(label) for label in (uncued or [])]
        unknown = [label for label in self.uncued if label not in self.contexts]
        if unknown:
            raise ValueError(f"env.uncued={self.uncued} is not allowed: {unknown} not in env.contexts "
                             f"{list(self.contexts)}")
        self.max_episode_steps = FAMILY_MAX_STEPS[family]
        assert BASE_IDS[family] in REGISTERED_IDS

    @property
    def labels(self) -> list[str]:
        return list(self.contexts)

    def index(self, label: str) -> int:
        if label not in self.contexts:
            raise ValueError(f"context label {label!r} is not defined: env.contexts has {self.labels}")
        return self.labels.index(label)

    def env_kwargs_for(self, label: str) -> dict[str, Any]:
        """Constructor keywords of the env of context ``label``."""
        return {**self.env_kwargs, "context": self.contexts[label], "context_id": self.index(label),
                "n_contexts": len(self.contexts), "context_cue": self.context_cue,
                "cue_shown": label not in self.uncued}

    def cue_dims(self, obs_dim: int) -> list[int]:
        """Indices of the cue's one-hot in an observation of ``obs_dim`` (the last dimensions; none
        without a cue)."""
        n = len(self.contexts) if self.context_cue else 0
        return list(range(obs_dim - n, obs_dim))

    def make_env(self, label: str, **overrides: Any) -> gymnasium.Env:
        """A single env of context ``label`` (with the registered time limit), acting in [-1, 1]."""
        return to_unit_box(gymnasium.make(BASE_IDS[self.family], **{**self.env_kwargs_for(label), **overrides}))

    @property
    def env_id(self) -> str:
        return BASE_IDS[self.family]


def to_unit_box(env: gymnasium.Env) -> gymnasium.Env:
    """``env`` as the agent acts on it: its action box rescaled to [-1, 1] when it is another
    (unchanged, not wrapped, when it is already [-1, 1])."""
    space = env.action_space
    if isinstance(space, gymnasium.spaces.Box) and not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        return RescaleAction(env, np.full(space.shape, -1.0, space.dtype), np.full(space.shape, 1.0, space.dtype))
    return env


def _plain(context: Any) -> Any:
    """OmegaConf containers to plain dicts, so contexts hash, pickle and print simply."""
    if isinstance(context, Mapping):
        return {str(k): v for k, v in context.items()}
    return context
