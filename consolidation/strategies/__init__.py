"""Registry of consolidation strategies: ours, continual-learning baselines and ablations.

Importing this package imports every module in it, and each module registers its strategy:
``STRATEGIES[name]`` is the class behind ``consolidation=<name>``. The hook contract is
documented in :mod:`consolidation.strategies.base`. A strategy with parameters beyond our
sleep's declares a ``Schema`` dataclass; :func:`runner.schema.register` puts it in
Hydra's ConfigStore as ``<name>_schema`` for its YAML option to extend.
"""

import importlib
import pkgutil

from consolidation.strategies.base import STRATEGIES, Strategy, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["STRATEGIES", "Strategy", "register"]
