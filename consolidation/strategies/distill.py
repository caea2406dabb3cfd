"""``distill``: distillation of the task just learned, no replay of earlier tasks, no gating."""

from __future__ import annotations

from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("distill")
class Distill(SleepConsolidation):
    """Sleep strategy: distillation of the task just learned, no replay of earlier tasks, no gating."""

    DEFAULTS = {"interleave": False, "gating": {"mode": "off"}}
