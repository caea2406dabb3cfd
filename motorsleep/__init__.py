"""motorsleep: motor skill consolidation in RL agents. This package is what a user imports and
runs: the ``motorsleep`` command (:mod:`motorsleep.cli`), the Hydra app (:mod:`motorsleep.app`)
and a small Python API (:mod:`motorsleep.api`).

Importing it registers the gymnasium ids (``motorsleep/Reach-v0``, ``motorsleep/ReachCurlCW-v0``,
...; :data:`envs.REGISTERED_IDS`), so that in a fresh interpreter

    gymnasium.make("motorsleep:motorsleep/ReachCurlCW-v0")

works without an import: gymnasium imports the module named before the colon first.

The API's functions (:func:`run`, :func:`load_run`, :func:`evaluate`, :func:`make_env`) are
imported on first use: they need torch, stable-baselines3 and Hydra (some seconds to import),
which registering the envs for ``gymnasium.make`` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envs import REGISTERED_IDS, env_id_for  # registers the ids

if TYPE_CHECKING:  # for readers and type checkers; at run time __getattr__ imports them
    from motorsleep.api import ContextScore as ContextScore
    from motorsleep.api import evaluate as evaluate
    from motorsleep.api import load_run as load_run
    from motorsleep.api import make_env as make_env
    from motorsleep.api import run as run

_API = ("ContextScore", "evaluate", "load_run", "make_env", "run")


def __getattr__(name: str) -> Any:
    if name in _API:
        from motorsleep import api

        return getattr(api, name)
    raise AttributeError(f"module 'motorsleep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})


__all__ = ["REGISTERED_IDS", "env_id_for", *_API]
