"""Registry of consolidation strategies: ours, continual-learning baselines and ablations.

Importing this package registers every strategy; ``STRATEGIES[name]`` is the class behind
``consolidation=<name>``. The hook contract is documented in :mod:`consolidation.strategies.base`.
"""

from consolidation.strategies import distill, fine_tuning, full, gated, replay_distill  # noqa: F401
from consolidation.strategies.base import STRATEGIES, Strategy, register

__all__ = ["STRATEGIES", "Strategy", "register"]
