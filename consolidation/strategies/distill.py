"""``distill``: distillation of the task just learned, no replay of earlier tasks, no gating."""

from __future__ import annotations

from dataclasses import dataclass, field

from consolidation.neuromodulation import GatingSettings
from consolidation.sleep import SleepSettings
from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("distill")
class Distill(SleepConsolidation):
    """Sleep strategy: distillation of the task just learned, no replay of earlier tasks, no gating."""

    @dataclass
    class Schema(SleepSettings):
        interleave: bool = False
        gating: GatingSettings = field(default_factory=lambda: GatingSettings(mode="off"))
