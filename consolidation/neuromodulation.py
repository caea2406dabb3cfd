"""Neuromodulator-like gating: turn each memory's tags (TD error, novelty) into bounded
learning-rate gains and replay priorities for sleep, with 'off' and 'shuffled' controls.

Following Doya (2002, "Metalearning and neuromodulation", Neural Networks 15), neuromodulators
are read as signals that set the learning process itself, not what is learned:

- dopamine-like: the reward-prediction (TD) error, whose magnitude phasic dopamine reports
  (Schultz, Dayan and Montague 1997); surprising outcomes earn more plasticity and replay;
- acetylcholine-like: novelty, an estimate of expected uncertainty (Yu and Dayan 2005). ACh is
  high in wake, favouring the encoding of new input, and low in slow-wave sleep, favouring
  consolidation (Hasselmo 1999; 2006): here the wake-time novelty tag is stored with each memory,
  and sleep (with low ACh) replays and consolidates what was tagged most novel.

Every signal is mean-normalised: gating redistributes plasticity across memories without changing
the average learning rate, so 'on' versus 'off' compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GATING_MODES = ("on", "off", "shuffled")


@dataclass
class GatingSettings:
    """How the tags gate sleep: the ``consolidation.gating`` config node, and the one place its
    defaults are written.

    :param mode: ``"on"`` (gating by the tags), ``"off"`` (all gains 1, uniform replay) or
        ``"shuffled"`` (the 'on' gains, randomly permuted across memories: same values, no relation
        to the memories, the control showing that gating rather than extra noise matters).
    :param dopamine_weight: exponent of the dopamine signal in the raw gain (0 ignores it).
    :param acetylcholine_weight: exponent of the acetylcholine signal in the raw gain.
    :param gain_min: smallest gain, in (0, 1]: no memory is ever ignored outright.
    :param gain_max: largest gain, >= 1: no memory can dominate a step.
    :param priority_exponent: replay probability is proportional to gain ** exponent
        (0 uniform, 1 proportional; 0.6 as in prioritised experience replay).
    """

    mode: str = "on"
    dopamine_weight: float = 1.0
    acetylcholine_weight: float = 1.0
    gain_min: float = 0.25
    gain_max: float = 4.0
    priority_exponent: float = 0.6

    def __post_init__(self) -> None:
        if self.mode not in GATING_MODES:
            raise ValueError(f"mode={self.mode!r} is not allowed: expected one of {list(GATING_MODES)}")
        for name in ("dopamine_weight", "acetylcholine_weight", "priority_exponent"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name}={value!r} is not allowed: expected a finite number >= 0")
        if not (np.isfinite(self.gain_min) and np.isfinite(self.gain_max) and 0 < self.gain_min <= 1 <= self.gain_max):
            raise ValueError(f"gain_min={self.gain_min!r}, gain_max={self.gain_max!r} are not allowed: "
                             "expected finite numbers with 0 < gain_min <= 1 <= gain_max")


class Neuromodulator:
    """Per-memory gains and replay priorities from dopamine- and acetylcholine-like tags.

    :param seed: seed of the modulator's own generator (used only by ``"shuffled"``).
    :param settings: the fields of :class:`GatingSettings` (mode, weights, gain bounds, priority
        exponent), validated there.
    """

    def __init__(self, seed: int = 0, **settings) -> None:
        gating = GatingSettings(**settings)
        self.mode = gating.mode
        self.dopamine_weight, self.acetylcholine_weight = float(gating.dopamine_weight), float(
            gating.acetylcholine_weight)
        self.gain_min, self.gain_max = float(gating.gain_min), float(gating.gain_max)
        self.priority_exponent = float(gating.priority_exponent)
        self._rng = np.random.default_rng(seed)

    def dopamine(self, td_error) -> np.ndarray:
        """Dopamine-like signal |delta| / mean |delta|: >= 0, mean 1 (all ones if every delta is 0).

        Sign is dropped: better- and worse-than-expected outcomes are both worth consolidating.
        """
        return _mean_normalised(np.abs(_signal("td_error", td_error)))

    def acetylcholine(self, novelty) -> np.ndarray:
        """Acetylcholine-like signal novelty / mean novelty: >= 0, mean 1 (ones if all are 0)."""
        novelty = _signal("novelty", novelty)
        if (novelty < 0).any():
            raise ValueError("novelty holds negative values: expected numbers >= 0")
        return _mean_normalised(novelty)

    def gains(self, td_error, novelty) -> np.ndarray:
        """Per-memory learning-rate gains in [gain_min, gain_max].

        'on': raw = dopamine ** dopamine_weight * acetylcholine ** acetylcholine_weight, then
        gain = clip(raw / mean(raw), gain_min, gain_max): mean 1 before clipping, so the average
        learning rate is (nearly: clipping moves it a little, see :meth:`summary`) unchanged.
        'off': all ones. 'shuffled': the 'on' gains permuted by the modulator's own generator.
        """
        td_error, novelty = _signal("td_error", td_error), _signal("novelty", novelty)
        if td_error.shape != novelty.shape:
            raise ValueError(f"td_error has shape {td_error.shape} and novelty {novelty.shape}: "
                             "expected one value of each per memory")
        if self.mode == "off":
            return np.ones_like(td_error)
        # The product in log space, rescaled by its largest term: no overflow for any weights.
        log_raw = (_log_power(self.dopamine(td_error), self.dopamine_weight)
                   + _log_power(self.acetylcholine(novelty), self.acetylcholine_weight))
        top = log_raw.max(initial=-np.inf)
        raw = np.exp(log_raw - top) if np.isfinite(top) else np.ones_like(log_raw)
        gains = np.clip(_mean_normalised(raw), self.gain_min, self.gain_max)
        return self._rng.permutation(gains) if self.mode == "shuffled" else gains

    def priorities(self, gains) -> np.ndarray:
        """Replay probabilities proportional to gains ** priority_exponent, summing to 1.

        Uniform when the mode is 'off'. Gains are bounded below by gain_min > 0, so every memory
        keeps a non-zero chance of replay.
        """
        gains = _signal("gains", gains)
        if len(gains) == 0:
            raise ValueError("gains is empty: expected at least one memory to replay")
        if (gains <= 0).any():
            raise ValueError("gains holds values <= 0: expected positive gains")
        if self.mode == "off":
            return np.full(len(gains), 1.0 / len(gains))
        weights = gains ** self.priority_exponent
        return weights / weights.sum()

    def summary(self, gains, td_error, novelty) -> dict[str, float]:
        """Scalars to log over time: gain statistics and raw signal levels.

        ``dopamine_mean`` is mean |delta| and ``acetylcholine_mean`` the mean novelty, before
        normalisation (the normalised signals have mean 1 by construction, nothing to log).
        """
        gains = _signal("gains", gains)
        td_error, novelty = _signal("td_error", td_error), _signal("novelty", novelty)
        if len(gains) == 0:
            raise ValueError("gains is empty: expected at least one memory to summarise")
        return {"gain_mean": float(gains.mean()), "gain_std": float(gains.std()),
                "gain_min": float(gains.min()), "gain_max": float(gains.max()),
                "dopamine_mean": float(np.abs(td_error).mean()) if len(td_error) else 0.0,
                "acetylcholine_mean": float(novelty.mean()) if len(novelty) else 0.0}


def _signal(name: str, values) -> np.ndarray:
    """``values`` as a finite float64 vector."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} has shape {array.shape}: expected a vector (one per memory)")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds non-finite values: expected finite numbers")
    return array


def _mean_normalised(values: np.ndarray) -> np.ndarray:
    """values / mean(values) for finite values >= 0; all ones when they are all 0 (or none).

    Divides by the largest value first, so that huge inputs cannot overflow the mean.
    """
    top = values.max(initial=0.0)
    if not top > 0:
        return np.ones_like(values)
    scaled = values / top
    return scaled / scaled.mean()


def _log_power(values: np.ndarray, exponent: float) -> np.ndarray:
    """log(values ** exponent), with 0 ** 0 = 1 and log 0 = -inf."""
    if exponent == 0:
        return np.zeros_like(values)
    with np.errstate(divide="ignore"):
        return exponent * np.log(values)
