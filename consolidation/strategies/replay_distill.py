"""``replay_distill``: distillation with interleaved replay of earlier tasks' memories, no gating."""

from __future__ import annotations

from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("replay_distill")
class ReplayDistill(SleepConsolidation):
    """Sleep strategy: distillation with interleaved replay of earlier tasks' memories, no gating."""

    DEFAULTS = {"interleave": True, "gating": {"mode": "off"}}
