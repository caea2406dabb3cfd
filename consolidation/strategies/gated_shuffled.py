"""``gated_shuffled``: the control of ``gated``: each task's gains, randomly permuted among that
task's own memories, so that gating's values (and any difference between tasks) survive but their
relation to each memory's tags does not. (The headline of the interference issue ran the earlier
control, ``shuffled_across_tasks``, which also erased the differences between tasks.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from consolidation.neuromodulation import GatingSettings
from consolidation.strategies.base import register
from consolidation.strategies.gated import Gated


@register("gated_shuffled")
class GatedShuffled(Gated):
    """Sleep control: ``gated`` with its gains shuffled within each task."""

    @dataclass
    class Schema(Gated.Schema):
        gating: GatingSettings = field(default_factory=lambda: GatingSettings(mode="shuffled_within_task"))
