"""Neuromodulation in wake: the cortex's plasticity scaled by an acetylcholine- or dopamine-like
signal of its own experience, chosen by ``wake_gating=...``.

- acetylcholine-like (``signal: novelty``): the mean novelty of the latest tagged batch against
  its running baseline. ACh rises with unexpected uncertainty, as at a change of context (Yu and
  Dayan 2005), and raises cortical plasticity for new input (Hasselmo 2006): when B's first
  movements surprise the forward model, the cortex's learning rate rises, and optionally Adam's
  moment estimates (fitted to A's gradients) are cleared.
- dopamine-like (``signal: td_error``): the mean |TD error| of the latest batch against its
  baseline: large prediction errors, as after a switch, scale the update up (Schultz, Dayan and
  Montague 1997).

Both may help the plasticity problem of issue 12 (B learned from A's weights more slowly than
from scratch): the switch raises the step size exactly when the old solution stops working, and
a moment reset removes the stale direction. Neither uses the context cue: the surge comes from
the agent's own surprise.

The factor multiplies SB3's learning-rate schedule during the wake (restored at its end), so the
optimiser's step size really changes; it is clipped to [factor_min, factor_max], and the
baseline (an exponential moving average over batches) carries over from one wake to the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stable_baselines3.common.callbacks import BaseCallback

SIGNALS = ("none", "novelty", "td_error")


@dataclass
class WakeGatingSettings:
    """How a wake-time signal scales the cortex's learning rate: the settings of a ``wake_gating``
    config option, and the one place their defaults are written.

    :param signal: :data:`SIGNALS`: ``none`` (off), ``novelty`` (acetylcholine-like) or
        ``td_error`` (dopamine-like).
    :param exponent: factor = (level / baseline) ** exponent before clipping.
    :param factor_min: smallest factor on the learning rate, in (0, 1].
    :param factor_max: largest factor, >= 1.
    :param baseline_decay: weight of the old baseline in its moving average, in [0, 1).
    :param reset_moments_above: a factor above this clears the cortex's optimiser moments (a
        surge of acetylcholine at a switch); 0 never clears them.
    """

    signal: str = "none"
    exponent: float = 1.0
    factor_min: float = 0.5
    factor_max: float = 4.0
    baseline_decay: float = 0.9
    reset_moments_above: float = 0.0

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            raise ValueError(f"wake_gating.signal={self.signal!r} is not allowed: expected one of {list(SIGNALS)}")
        if not (math.isfinite(self.exponent) and self.exponent >= 0):
            raise ValueError(f"wake_gating.exponent={self.exponent!r} is not allowed: expected a finite number >= 0")
        if not (math.isfinite(self.factor_max) and 0 < self.factor_min <= 1 <= self.factor_max):
            raise ValueError(f"wake_gating.factor_min={self.factor_min!r}, factor_max={self.factor_max!r} are not "
                             "allowed: expected finite numbers with 0 < factor_min <= 1 <= factor_max")
        if not 0 <= self.baseline_decay < 1:
            raise ValueError(f"wake_gating.baseline_decay={self.baseline_decay!r} is not allowed: expected [0, 1)")
        if not (math.isfinite(self.reset_moments_above) and self.reset_moments_above >= 0):
            raise ValueError(f"wake_gating.reset_moments_above={self.reset_moments_above!r} is not allowed: "
                             "expected a finite number >= 0 (0: never)")


class WakeGating:
    """The wake gating of one experiment: its settings (:class:`WakeGatingSettings`) and its state
    (the signal's baseline, the current factor, how many moment resets it made)."""

    Schema = WakeGatingSettings

    def __init__(self, **settings) -> None:
        self.settings = WakeGatingSettings(**settings)
        self.signal = self.settings.signal
        self.baseline: float | None = None
        self.factor = 1.0
        self.resets = 0

    @property
    def active(self) -> bool:
        return self.signal != "none"

    def observe(self, level: float) -> float:
        """Fold one batch's signal level in; the factor for the updates that follow."""
        if not math.isfinite(level) or level < 0:
            raise ValueError(f"wake gating level {level!r}: expected a finite number >= 0")
        s = self.settings
        if self.baseline is None or self.baseline <= 0:
            self.factor = 1.0
        else:
            self.factor = min(max((level / self.baseline) ** s.exponent, s.factor_min), s.factor_max)
        self.baseline = level if self.baseline is None else (
            s.baseline_decay * self.baseline + (1 - s.baseline_decay) * level)
        return self.factor

    def callback(self, tagger) -> WakeGatingCallback:
        """The SB3 callback applying this gating, reading levels from ``tagger`` (placed after it)."""
        return WakeGatingCallback(self, tagger)

    def state_dict(self) -> dict:
        return {"baseline": self.baseline, "factor": self.factor, "resets": self.resets}

    def load_state_dict(self, state: dict | None) -> None:
        state = state or {}
        self.baseline, self.factor = state.get("baseline"), float(state.get("factor", 1.0))
        self.resets = int(state.get("resets", 0))


class WakeGatingCallback(BaseCallback):
    """Scales the learner's learning-rate schedule by the gating's factor after every tagged batch."""

    def __init__(self, gating: WakeGating, tagger) -> None:
        super().__init__()
        self.gating, self.tagger = gating, tagger
        self._schedule = None
        self._seen = 0

    def _on_training_start(self) -> None:
        self._schedule = schedule = self.model.lr_schedule
        gating = self.gating
        self.model.lr_schedule = lambda progress: schedule(progress) * gating.factor
        self._seen = self.tagger.transitions_tagged

    def _after_tagging(self) -> None:
        if self.tagger.transitions_tagged == self._seen:
            return
        self._seen = self.tagger.transitions_tagged
        factor = self.gating.observe(self.tagger.last_levels[self.gating.signal])
        threshold = self.gating.settings.reset_moments_above
        if threshold and factor > threshold:
            for optimizer in _optimizers(self.model):
                optimizer.state.clear()
            self.gating.resets += 1
        self.logger.record("wake_gating/factor", factor)

    def _on_step(self) -> bool:
        self._after_tagging()  # off-policy learners tag every few steps
        return True

    def _on_rollout_end(self) -> None:
        self._after_tagging()  # on-policy learners tag each rollout, before it trains

    def _on_training_end(self) -> None:
        if self._schedule is not None:
            self.model.lr_schedule = self._schedule


def _optimizers(model) -> list:
    policy = model.policy
    found = [getattr(policy, "optimizer", None)]
    for part in ("actor", "critic"):
        found.append(getattr(getattr(policy, part, None), "optimizer", None))
    found.append(getattr(model, "ent_coef_optimizer", None))
    return [o for o in found if o is not None]
