"""``gated``: interleaved replay and distillation gated by dopamine- and acetylcholine-like signals."""

from __future__ import annotations

from dataclasses import dataclass, field

from consolidation.neuromodulation import GatingSettings
from consolidation.sleep import SleepSettings
from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("gated")
class Gated(SleepConsolidation):
    """Sleep strategy: interleaved replay and distillation, gated by neuromodulator-like signals."""

    @dataclass
    class Schema(SleepSettings):
        interleave: bool = True
        gating: GatingSettings = field(default_factory=lambda: GatingSettings(mode="on"))
