"""``replay_distill``: distillation with interleaved replay of earlier tasks' memories, no gating
(the 'gating off' ablation of ``gated``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from consolidation.neuromodulation import GatingSettings
from consolidation.sleep import SleepSettings
from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("replay_distill")
class ReplayDistill(SleepConsolidation):
    """Sleep strategy: distillation with interleaved replay of earlier tasks' memories, no gating."""

    @dataclass
    class Schema(SleepSettings):
        interleave: bool = True
        gating: GatingSettings = field(default_factory=lambda: GatingSettings(mode="off"))
