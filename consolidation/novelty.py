"""Acetylcholine-like novelty of wake experience: two stated models, chosen by ``novelty=...``.

Both judge each transition against the past only (before folding it in), leave out the context
cue's dimensions (a one-hot that flips at a switch would otherwise *be* the novelty: the
neuromodulation issue measured it as 85% of balance's B-versus-A gap) and are robust to
dimensions that never varied.

- :class:`ForwardModelNovelty` (the default): the prediction error of a small forward model of
  the body, s' - s predicted from (s, a), learned online in wake. A force field or a tilt changes
  how a motor command moves the body, not which states are visited first, so the surprise that
  marks a new context is in the dynamics: the error of a forward model, the signal that
  cerebellar theories of motor learning rest on (Wolpert, Miall and Kawato 1998).
- :class:`RunningDensityNovelty`: the mean squared z-score of the state under a running diagonal
  Gaussian (-log density up to constants): cheap and model-free, but blind to a change of
  dynamics that leaves the visited states alike.

The interface: ``model(obs, action, next_obs, valid)`` returns one novelty >= 0 per row;
``state_dict`` / ``load_state_dict`` hold tensors, numbers and lists only, so a phase checkpoint
keeps them with ``torch.save`` and reads them back with ``weights_only=True``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


class _RunningMoments:
    """Mean and variance of every dimension, merged batch by batch (Chan's parallel Welford)."""

    def __init__(self) -> None:
        self.count, self.mean, self.var = 0, None, None

    def update(self, x: np.ndarray) -> None:
        if len(x) == 0:
            return
        if self.mean is None:
            self.mean, self.var = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        n, total = len(x), self.count + len(x)
        delta = x.mean(axis=0) - self.mean
        m2 = self.var * self.count + x.var(axis=0) * n + delta**2 * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.var, self.count = m2 / total, total

    def state_dict(self) -> dict:
        return {"count": int(self.count), "mean": None if self.mean is None else self.mean.tolist(),
                "var": None if self.var is None else self.var.tolist()}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])
        self.mean = None if state["mean"] is None else np.asarray(state["mean"], dtype=np.float64)
        self.var = None if state["var"] is None else np.asarray(state["var"], dtype=np.float64)


def _check(name: str, value: float, low: float = 0.0) -> float:
    if not (math.isfinite(value) and value > low):
        raise ValueError(f"novelty.{name}={value!r} is not allowed: expected a finite number > {low}")
    return float(value)


def _kept(width: int, ignore_dims: Sequence[int]) -> np.ndarray:
    ignored = {int(d) for d in ignore_dims}
    bad = sorted(d for d in ignored if not 0 <= d < width)
    if bad:
        raise ValueError(f"novelty ignore_dims {bad} are outside the observation's {width} dimensions")
    return np.array([d for d in range(width) if d not in ignored], dtype=np.int64)


def _as_batch(name: str, values, width: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or (width is not None and array.shape[1] != width):
        raise ValueError(f"{name} has shape {array.shape}: expected (N, {width or 'dim'})")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds non-finite values: expected finite numbers")
    return array


class RunningDensityNovelty:
    """Mean squared z-score of the state (cue dimensions left out) under running statistics.

    The first batch has no past: its novelty is 1.0, the expected value for a typical state.

    :param ignore_dims: observation dimensions left out (the experiment passes the cue's).
    :param min_std: dimensions whose running std is below this are left out.
    :param z_clip: z-scores are clipped at this magnitude.
    """

    @dataclass
    class Schema:
        """Config schema: the settings a ``novelty`` option may set."""

        min_std: float = 1e-3
        z_clip: float = 10.0

    def __init__(self, ignore_dims: Sequence[int] = (), min_std: float = 1e-3, z_clip: float = 10.0) -> None:
        self.ignore_dims = [int(d) for d in ignore_dims]
        self.min_std, self.z_clip = _check("min_std", min_std), _check("z_clip", z_clip)
        self.moments = _RunningMoments()

    def __call__(self, obs, action=None, next_obs=None, valid=None) -> np.ndarray:
        obs = _as_batch("obs", obs)
        state = obs[:, _kept(obs.shape[1], self.ignore_dims)]
        if self.moments.count == 0:
            novelty = np.ones(len(state))
        else:
            informative = np.sqrt(self.moments.var) >= self.min_std
            z = np.zeros_like(state)
            z[:, informative] = np.clip((state[:, informative] - self.moments.mean[informative])
                                        / np.sqrt(self.moments.var[informative]), -self.z_clip, self.z_clip)
            novelty = np.mean(z[:, informative] ** 2, axis=1) if informative.any() else np.zeros(len(state))
        self.moments.update(state)
        return novelty

    def state_dict(self) -> dict:
        return {"kind": "running_density", "moments": self.moments.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.moments.load_state_dict(state["moments"])


class ForwardModelNovelty:
    """Squared prediction error of a small learned forward model, (s, a) -> s' - s.

    The error of each coordinate is scaled by the running std of that coordinate's change, and
    averaged over the coordinates that change at all (at least ``min_std``); cue dimensions are
    left out of input and output. The model is judged on a batch before it learns from it (a few
    full-batch Adam steps on the batch's valid rows: no sampling, so no random number is drawn).
    Its weights start from a generator of their own, so the learner's random streams are
    untouched. Rows with no valid successor (an episode boundary) get the batch's median error.

    :param ignore_dims: observation dimensions left out (the experiment passes the cue's).
    :param hidden: hidden layer widths of the model.
    :param learning_rate: Adam's step size for the model.
    :param steps_per_batch: gradient steps on each batch, after it is judged.
    :param min_std: coordinates whose change has a running std below this are left out.
    :param seed: seed of the model's initial weights.
    """

    @dataclass
    class Schema:
        """Config schema: the settings a ``novelty`` option may set."""

        hidden: list[int] = field(default_factory=lambda: [64, 64])
        learning_rate: float = 1e-3
        steps_per_batch: int = 5
        min_std: float = 1e-3
        seed: int = 0

    def __init__(self, ignore_dims: Sequence[int] = (), hidden: Sequence[int] = (64, 64), learning_rate: float = 1e-3,
                 steps_per_batch: int = 5, min_std: float = 1e-3, seed: int = 0) -> None:
        self.ignore_dims = [int(d) for d in ignore_dims]
        self.hidden = [int(h) for h in hidden]
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"novelty.hidden={list(hidden)!r} is not allowed: expected widths >= 1")
        self.learning_rate, self.min_std = _check("learning_rate", learning_rate), _check("min_std", min_std)
        if isinstance(steps_per_batch, bool) or not isinstance(steps_per_batch, int) or steps_per_batch < 0:
            raise ValueError(f"novelty.steps_per_batch={steps_per_batch!r} is not allowed: expected an integer >= 0")
        self.steps_per_batch, self.seed = steps_per_batch, int(seed)
        self.model: nn.Sequential | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.moments = _RunningMoments()  # of the state change s' - s
        self.batches = 0

    def _build(self, state_dim: int, action_dim: int) -> None:
        with torch.random.fork_rng(devices=[]):  # the learner's torch stream is left as it was
            torch.manual_seed(self.seed)
            layers, width = [], state_dim + action_dim
            for h in self.hidden:
                layers += [nn.Linear(width, h), nn.Tanh()]
                width = h
            self.model = nn.Sequential(*layers, nn.Linear(width, state_dim))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.learning_rate)

    def __call__(self, obs, action, next_obs, valid=None) -> np.ndarray:
        obs = _as_batch("obs", obs)
        keep = _kept(obs.shape[1], self.ignore_dims)
        state, next_state = obs[:, keep], _as_batch("next_obs", next_obs, obs.shape[1])[:, keep]
        action = _as_batch("action", action)
        if len(action) != len(obs):
            raise ValueError(f"action has {len(action)} rows and obs {len(obs)}: expected one action per observation")
        valid = np.ones(len(obs), bool) if valid is None else np.asarray(valid, bool).reshape(len(obs))
        if self.model is None:
            self._build(state.shape[1], action.shape[1])
        x = torch.as_tensor(np.concatenate([state, action], axis=1), dtype=torch.float32)
        change = next_state - state
        if self.moments.count == 0:
            errors = np.ones(len(obs))  # no past: the typical value, as for the density
        else:
            with torch.no_grad():
                predicted = self.model(x).numpy().astype(np.float64)
            scale = np.sqrt(self.moments.var)
            informative = scale >= self.min_std
            if informative.any():
                errors = np.mean(((change - predicted)[:, informative] / scale[informative]) ** 2, axis=1)
            else:
                errors = np.zeros(len(obs))
            errors = np.where(valid, errors, np.median(errors[valid]) if valid.any() else 0.0)
        if valid.any():
            self.moments.update(change[valid])
            self._learn(x[valid], change[valid])
        self.batches += 1
        return errors

    def _learn(self, x: torch.Tensor, change: np.ndarray) -> None:
        scale = torch.as_tensor(np.sqrt(np.maximum(self.moments.var, self.min_std**2)), dtype=torch.float32)
        target = torch.as_tensor(change, dtype=torch.float32)
        for _ in range(self.steps_per_batch):
            loss = (((self.model(x) - target) / scale) ** 2).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def state_dict(self) -> dict:
        """The moments, and the model's and optimiser's tensors (copies)."""
        state = {"kind": "forward_model", "moments": self.moments.state_dict(), "batches": self.batches, "model": None}
        if self.model is not None:
            state["model"] = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            state["optimizer"] = copy.deepcopy(self.optimizer.state_dict())
            state["dims"] = [self.model[0].in_features, self.model[-1].out_features]
        return state

    def load_state_dict(self, state: dict) -> None:
        self.moments.load_state_dict(state["moments"])
        self.batches = int(state["batches"])
        if state["model"] is None:
            self.model = self.optimizer = None
            return
        in_features, out_features = state["dims"]
        self._build(out_features, in_features - out_features)
        self.model.load_state_dict(_tensors(state["model"]))
        self.optimizer.load_state_dict(_tensors(state["optimizer"]))


def _tensors(value):
    """Tensors as they are; a checkpoint written before the state moved to ``novelty.pt`` held
    them as JSON lists ({"tensor": list, "dtype"}, dicts as {"__keys__": pairs}): rebuilt here."""
    if isinstance(value, dict) and "tensor" in value:
        return torch.tensor(value["tensor"], dtype=getattr(torch, value["dtype"]))
    if isinstance(value, dict) and "__keys__" in value:
        return {k: _tensors(v) for k, v in value["__keys__"]}
    if isinstance(value, list):
        return [_tensors(v) for v in value]
    return value


NOVELTY_MODELS = {"forward_model": ForwardModelNovelty, "running_density": RunningDensityNovelty}
