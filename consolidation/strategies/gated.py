"""``gated``: interleaved replay and distillation gated by dopamine- and acetylcholine-like signals."""

from __future__ import annotations

from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("gated")
class Gated(SleepConsolidation):
    """Sleep strategy: interleaved replay and distillation, gated by neuromodulator-like signals."""

    DEFAULTS = {"interleave": True, "gating": {"mode": "on"}}
