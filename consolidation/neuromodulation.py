"""Neuromodulator-like gating of sleep: each memory's tags (TD error, novelty) become a bounded
gain, and the gain acts on consolidation through mechanisms that are each named for what they are.

Following Doya (2002, "Metalearning and neuromodulation", Neural Networks 15), neuromodulators
are read as signals that set the learning process itself, not what is learned:

- dopamine-like: the reward-prediction (TD) error, whose magnitude phasic dopamine reports
  (Schultz, Dayan and Montague 1997); surprising outcomes earn more replay and plasticity;
- acetylcholine-like: novelty, an estimate of expected uncertainty (Yu and Dayan 2005). ACh is
  high in wake, favouring the encoding of new input, and low in slow-wave sleep, favouring
  consolidation (Hasselmo 1999; 2006): the wake-time novelty tag is stored with each memory and
  sleep consolidates what was tagged most novel.

**Normalisation.** Each signal is mean-normalised within a group of memories: each task's own
(``per_task``, the default) or all memories together (``pooled``), and the clipped gains are
scaled so that each group's mean gain is exactly 1. Per task, gating redistributes plasticity
among a task's memories and never moves it from one task to another: a task whose
TD errors are larger overall (B, just learned, against A, long learned) does not crowd out the
others.

**Mechanisms** (each switchable on its own; the gain acts once per mechanism switched on):

- ``prioritised_replay``: replay probability proportional to gain ** ``priority_exponent``, with an
  optional importance-sampling correction of strength ``importance_sampling`` (beta; Schaul et al.
  2016). beta = 0: what is replayed more is consolidated more; beta = 1: the expected update is
  uniform replay's, and priority changes only which memories come first and how often;
- ``loss_weight``: each sample's loss multiplied by its gain (under Adam this redistributes
  plasticity within a batch but cannot change the step size; under plain SGD, per-sample weights
  are per-sample learning rates);
- ``step_size``: the optimiser's learning rate scaled at each update by the batch's mean gain,
  relative to its expectation under the replay distribution: a true learning-rate modulation.

**Controls** (``mode``): ``off`` (all gains 1: uniform replay, no weight, no scaling);
``shuffled_within_task`` (each task's gains permuted among its own memories: the same values per
task, no relation to the tags); ``shuffled_across_tasks`` (permuted over all memories: also removes
any difference between tasks); ``inverted`` (each group's gains handed out in reverse order of the
tags: the same values, the opposite relation); ``matched`` (every memory gets its group's mean gain:
the same total plasticity, no variation at all). Since each group's mean gain is 1, ``matched``
gates exactly as ``off`` does: the total plasticity of gating is matched by construction, and
the mode stays as the check of that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

GATING_MODES = ("on", "off", "shuffled_within_task", "shuffled_across_tasks", "inverted", "matched")
#: earlier names, read from saved configs: the headline's ``gated_shuffled`` ran ``shuffled``
LEGACY_MODES = {"shuffled": "shuffled_across_tasks"}
NORMALISATIONS = ("per_task", "pooled")
TD_SOURCES = ("stored", "recomputed")
HISTOGRAM_BINS = 12  # log-spaced over [gain_min, gain_max], per task, in the sleep's audit


@dataclass
class GatingSettings:
    """How the tags gate sleep: the ``consolidation.gating`` config node, and the one place its
    defaults are written.

    :param mode: :data:`GATING_MODES`: ``on`` (gains from the tags) or one of the controls.
    :param normalise: :data:`NORMALISATIONS`: signals mean-normalised within each task or pooled.
    :param td_source: :data:`TD_SOURCES`: the dopamine-like signal is the TD error ``stored`` at wake
        (the critic of that moment: surprise then), or ``recomputed`` at the start of each sleep with
        the cortex's current critic from the stored reward and successor (surprise now; PPO only).
    :param dopamine_weight: exponent of the dopamine signal in the raw gain (0 ignores it).
    :param acetylcholine_weight: exponent of the acetylcholine signal in the raw gain.
    :param gain_min: smallest gain, in (0, 1]: no memory is ever ignored outright.
    :param gain_max: largest gain, >= 1: no memory can dominate a step.
    :param prioritised_replay: replay memories with probability proportional to gain ** exponent.
    :param priority_exponent: alpha of prioritised replay (0 uniform, 1 proportional).
    :param importance_sampling: beta of the importance-sampling correction of prioritised replay,
        in [0, 1] (0 none, 1 full: the expected update of uniform replay).
    :param loss_weight: multiply each sample's loss by its gain.
    :param step_size: scale the optimiser's learning rate by the batch's (relative) mean gain.
    """

    mode: str = "on"
    normalise: str = "per_task"
    td_source: str = "stored"
    dopamine_weight: float = 1.0
    acetylcholine_weight: float = 1.0
    gain_min: float = 0.25
    gain_max: float = 4.0
    prioritised_replay: bool = True
    priority_exponent: float = 1.0
    importance_sampling: float = 0.0
    loss_weight: bool = False
    step_size: bool = False

    def __post_init__(self) -> None:
        self.mode = LEGACY_MODES.get(self.mode, self.mode)
        if self.mode not in GATING_MODES:
            raise ValueError(f"consolidation.gating.mode={self.mode!r} is not allowed: expected one of "
                             f"{list(GATING_MODES)}")
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"consolidation.gating.normalise={self.normalise!r} is not allowed: expected one of "
                             f"{list(NORMALISATIONS)}")
        if self.td_source not in TD_SOURCES:
            raise ValueError(f"consolidation.gating.td_source={self.td_source!r} is not allowed: expected one of "
                             f"{list(TD_SOURCES)}")
        for name in ("dopamine_weight", "acetylcholine_weight", "priority_exponent"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"consolidation.gating.{name}={value!r} is not allowed: expected a finite number >= 0")
        if not (np.isfinite(self.gain_min) and np.isfinite(self.gain_max) and 0 < self.gain_min <= 1 <= self.gain_max):
            raise ValueError(f"consolidation.gating.gain_min={self.gain_min!r}, gain_max={self.gain_max!r} are not "
                             "allowed: expected finite numbers with 0 < gain_min <= 1 <= gain_max")
        if not 0.0 <= self.importance_sampling <= 1.0:
            raise ValueError(f"consolidation.gating.importance_sampling={self.importance_sampling!r} is not allowed: "
                             "expected a number in [0, 1]")
        if self.mode != "off" and not self.mechanisms:
            raise ValueError(f"consolidation.gating.mode={self.mode!r} with no mechanism switched on: set at least "
                             "one of prioritised_replay, loss_weight, step_size to true (or mode=off)")

    @property
    def mechanisms(self) -> list[str]:
        """The mechanisms switched on, by name."""
        return [name for name in ("prioritised_replay", "loss_weight", "step_size") if getattr(self, name)]


class Neuromodulator:
    """Per-memory gains from dopamine- and acetylcholine-like tags, and what each mechanism makes
    of them: replay probabilities, per-sample loss weights, per-batch step-size factors.

    :param seed: seed of the modulator's own generator (used only by the shuffled controls).
    :param settings: the fields of :class:`GatingSettings`, validated there.
    """

    def __init__(self, seed: int = 0, **settings) -> None:
        self.settings = GatingSettings(**settings)
        self.mode = self.settings.mode
        self._rng = np.random.default_rng(seed)

    # -- signals ------------------------------------------------------------------------------
    @staticmethod
    def dopamine(td_error) -> np.ndarray:
        """Dopamine-like signal |delta| / mean |delta|: >= 0, mean 1 (all ones if every delta is 0).

        Sign is dropped: better- and worse-than-expected outcomes are both worth consolidating.
        """
        return _mean_normalised(np.abs(_signal("td_error", td_error)))

    @staticmethod
    def acetylcholine(novelty) -> np.ndarray:
        """Acetylcholine-like signal novelty / mean novelty: >= 0, mean 1 (ones if all are 0)."""
        novelty = _signal("novelty", novelty)
        if (novelty < 0).any():
            raise ValueError("novelty holds negative values: expected numbers >= 0")
        return _mean_normalised(novelty)

    # -- gains --------------------------------------------------------------------------------
    def gains(self, td_error, novelty, task=None) -> np.ndarray:
        """Per-memory gains in [gain_min, gain_max], by the mode.

        'on': within each group (a task, or all memories when pooled), raw = dopamine **
        dopamine_weight * acetylcholine ** acetylcholine_weight with both signals normalised in the
        group, then gain = clip(c * raw, gain_min, gain_max) with the one scale c that gives the
        group a mean gain of exactly 1 *after* clipping. (Clipping alone does not keep the mean:
        the tags are heavy-tailed, and capping the tail took a task's mean gain to about half, by
        a different amount per task, so plasticity moved between tasks; the first gating study
        found it through the shuffled-across-tasks control.) ``task`` (one id per memory) defines
        the groups; None is one group.
        """
        td_error, novelty = _signal("td_error", td_error), _signal("novelty", novelty)
        task = np.zeros(len(td_error), dtype=np.int64) if task is None else np.asarray(task)
        if td_error.shape != novelty.shape or task.shape != td_error.shape:
            raise ValueError(f"td_error has shape {td_error.shape}, novelty {novelty.shape} and task {task.shape}: "
                             "expected one value of each per memory")
        if self.mode == "off":
            return np.ones_like(td_error)
        groups = self._groups(task)
        gains = np.empty_like(td_error)
        for rows in groups:
            gains[rows] = self._group_gains(td_error[rows], novelty[rows])
        if self.mode == "shuffled_across_tasks":
            return self._rng.permutation(gains)
        for rows in (groups if self.settings.normalise == "per_task" else [np.arange(len(gains))]):
            gains[rows] = self._control(gains[rows], task_rows=rows, task=task)
        return gains

    def _groups(self, task: np.ndarray) -> list[np.ndarray]:
        if self.settings.normalise == "pooled":
            return [np.arange(len(task))]
        return [np.flatnonzero(task == t) for t in np.unique(task)]

    def _group_gains(self, td_error: np.ndarray, novelty: np.ndarray) -> np.ndarray:
        # The product in log space, rescaled by its largest term: no overflow for any weights.
        log_raw = (_log_power(self.dopamine(td_error), self.settings.dopamine_weight)
                   + _log_power(self.acetylcholine(novelty), self.settings.acetylcholine_weight))
        top = log_raw.max(initial=-np.inf)
        raw = np.exp(log_raw - top) if np.isfinite(top) else np.ones_like(log_raw)
        return _clipped_mean_one(_mean_normalised(raw), self.settings.gain_min, self.settings.gain_max)

    def _control(self, gains: np.ndarray, task_rows: np.ndarray, task: np.ndarray) -> np.ndarray:
        """The within-group controls; 'on' passes the gains through."""
        if self.mode == "shuffled_within_task":
            out = gains.copy()  # permuted within each task, whatever the normalisation group
            for t in np.unique(task[task_rows]):
                mine = np.flatnonzero(task[task_rows] == t)
                out[mine] = gains[mine][self._rng.permutation(len(mine))]
            return out
        if self.mode == "inverted":
            order = np.argsort(gains, kind="stable")
            out = np.empty_like(gains)
            out[order] = gains[order[::-1]]
            return out
        if self.mode == "matched":
            return np.full_like(gains, gains.mean())
        return gains

    # -- mechanisms ---------------------------------------------------------------------------
    def priorities(self, gains) -> np.ndarray:
        """Replay probabilities, summing to 1: proportional to gains ** priority_exponent under
        prioritised replay, else uniform (as always when the mode is 'off')."""
        gains = _positive("gains", gains)
        if self.mode == "off" or not self.settings.prioritised_replay:
            return np.full(len(gains), 1.0 / len(gains))
        weights = gains ** self.settings.priority_exponent
        return weights / weights.sum()

    def importance_weights(self, probabilities) -> np.ndarray:
        """(N p_i) ** -beta, scaled so that their mean under the replay distribution is 1: with
        beta = 1, each memory's expected weight in an update is uniform replay's."""
        probabilities = _positive("probabilities", probabilities)
        beta = self.settings.importance_sampling if self.settings.prioritised_replay else 0.0
        if self.mode == "off" or beta == 0:
            return np.ones_like(probabilities)
        weights = (len(probabilities) * probabilities) ** -beta
        return weights / float(probabilities @ weights)

    def sample_weights(self, gains, probabilities) -> np.ndarray:
        """Each memory's factor on its loss: the importance weight, times the gain under
        ``loss_weight``. Ones when the mode is 'off'."""
        weights = self.importance_weights(probabilities)
        if self.mode != "off" and self.settings.loss_weight:
            weights = weights * _positive("gains", gains)
        return weights

    def step_scale(self, batch_gains, expected_gain: float) -> float:
        """The factor on the learning rate for one batch: its mean gain over ``expected_gain`` (the
        mean gain under the replay distribution), so the average factor is 1; 1 unless
        ``step_size``."""
        if self.mode == "off" or not self.settings.step_size:
            return 1.0
        return float(np.mean(batch_gains)) / float(expected_gain)

    # -- audit --------------------------------------------------------------------------------
    def summary(self, gains, td_error, novelty, task=None) -> dict:
        """What gating did, to save with the sleep: overall gain statistics and raw signal levels,
        and per task the gains' statistics, their histogram (log-spaced bins, edges in
        ``histogram_edges``) and their Spearman correlation with |TD error| and with novelty
        (None when either is constant)."""
        gains = _positive("gains", gains)
        td_error, novelty = _signal("td_error", td_error), _signal("novelty", novelty)
        task = np.zeros(len(gains), dtype=np.int64) if task is None else np.asarray(task)
        edges = np.geomspace(self.settings.gain_min, self.settings.gain_max, HISTOGRAM_BINS + 1)
        out = {**_stats(gains, td_error, novelty), "mode": self.mode, "normalise": self.settings.normalise,
               "mechanisms": self.settings.mechanisms, "histogram_edges": edges.tolist(), "per_task": {}}
        for t in np.unique(task):
            rows = task == t
            counts, _ = np.histogram(np.clip(gains[rows], edges[0], edges[-1]), bins=edges)
            out["per_task"][str(int(t))] = {
                "n": int(rows.sum()), **_stats(gains[rows], td_error[rows], novelty[rows]),
                "histogram": counts.tolist(),
                "spearman_td": _spearman(gains[rows], np.abs(td_error[rows])),
                "spearman_novelty": _spearman(gains[rows], novelty[rows])}
        return out


def _stats(gains: np.ndarray, td_error: np.ndarray, novelty: np.ndarray) -> dict[str, float]:
    return {"gain_mean": float(gains.mean()), "gain_std": float(gains.std()),
            "gain_min": float(gains.min()), "gain_max": float(gains.max()),
            "dopamine_mean": float(np.abs(td_error).mean()), "acetylcholine_mean": float(novelty.mean())}


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def _signal(name: str, values) -> np.ndarray:
    """``values`` as a finite float64 vector."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} has shape {array.shape}: expected a vector (one per memory)")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds non-finite values: expected finite numbers")
    return array


def _positive(name: str, values) -> np.ndarray:
    array = _signal(name, values)
    if len(array) == 0:
        raise ValueError(f"{name} is empty: expected at least one memory")
    if (array <= 0).any():
        raise ValueError(f"{name} holds values <= 0: expected positive values")
    return array


def _clipped_mean_one(raw: np.ndarray, low: float, high: float, iterations: int = 200) -> np.ndarray:
    """clip(c * raw, low, high) with c >= 0 chosen so that the mean is 1 (low <= 1 <= high).

    mean(clip(c * raw)) grows with c from ``low`` towards ``high`` (memories with raw 0 stay at
    ``low``), so c is found by bisection on log c; when even the largest c falls short of a
    mean of 1 (nearly every raw value is 0) the gains are as high as the bounds allow.
    """
    if len(raw) == 0 or np.all(raw == raw[0]):
        return np.ones_like(raw)

    def mean_at(log_c: float) -> float:
        return float(np.clip(np.exp(log_c) * raw, low, high).mean())

    lo, hi = -60.0, 60.0  # raw is mean-normalised: c = 1 is the middle of this range
    if mean_at(hi) < 1.0:
        return np.clip(np.exp(hi) * raw, low, high)
    for _ in range(iterations):
        middle = 0.5 * (lo + hi)
        lo, hi = (middle, hi) if mean_at(middle) < 1.0 else (lo, middle)
    return np.clip(np.exp(hi) * raw, low, high)


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
