"""``full``: gated replay and distillation, then synaptic downscaling of the student.

Downscaling after Hill, Tononi and Ghilardi (2008), the synaptic homeostasis of sleep.
"""

from __future__ import annotations

from dataclasses import dataclass

from consolidation.strategies.base import register
from consolidation.strategies.gated import Gated


@register("full")
class Full(Gated):
    """Sleep strategy: gated replay and distillation, then synaptic downscaling of the student."""

    @dataclass
    class Schema(Gated.Schema):
        downscaling: float = 0.98
