"""``full``: gated replay and distillation, then synaptic downscaling of the student.

Downscaling after Hill, Tononi and Ghilardi (2008), the synaptic homeostasis of sleep.
"""

from __future__ import annotations

from consolidation.strategies.base import register
from consolidation.strategies.sleep_consolidation import SleepConsolidation


@register("full")
class Full(SleepConsolidation):
    """Sleep strategy: gated replay and distillation, then synaptic downscaling of the student."""

    DEFAULTS = {"interleave": True, "gating": {"mode": "on"}, "downscaling": 0.98}
