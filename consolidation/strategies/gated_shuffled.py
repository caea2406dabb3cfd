"""``gated_shuffled``: the control of ``gated``: the same gains, randomly permuted across memories,
so that gating's values survive but their relation to each memory does not."""

from __future__ import annotations

from dataclasses import dataclass, field

from consolidation.neuromodulation import GatingSettings
from consolidation.strategies.base import register
from consolidation.strategies.gated import Gated


@register("gated_shuffled")
class GatedShuffled(Gated):
    """Sleep control: ``gated`` with its gains shuffled across memories."""

    @dataclass
    class Schema(Gated.Schema):
        gating: GatingSettings = field(default_factory=lambda: GatingSettings(mode="shuffled"))
