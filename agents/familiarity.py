"""How familiar a state is to the subcortical store: closeness to the states it was consolidated on.

The arbitrated controller (agents/controller.py) lets the consolidated command act alone where the
student is certain and lets the cortex correct it where it is not (Daw, Niv and Dayan 2005:
control goes to the system whose estimate is the more certain). A distilled network has no
calibrated uncertainty of its own; what it can be trusted on is where it was trained. So the
student's certainty at a state is read as the state's closeness to the states the last sleep
distilled it on, with the context cue included: a habit is bound to the context it was
consolidated in, and the cue is the one part of the state that names the context.

    familiarity(s) = exp(-(d(s) / (width * spacing))^2)

where ``d(s)`` is the distance from ``s`` to its nearest reference state, every dimension scaled
by the reference's own spread, and ``spacing`` is the reference's median nearest-neighbour
distance (leave-one-out): a state as close to the consolidated ones as they are to each other
is familiar (about 0.78 at width 2), one ``width`` spacings out is at exp(-1). A dimension that
never varied in the reference (the cue of the only context consolidated) is scaled by
``min_std``, so that a state that differs there is far from every reference state.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_CHUNK = 1024  # reference rows compared at once: bounds the distance matrix's memory


class Familiarity:
    """Nearest-neighbour familiarity to a reference set of states (empty: nothing is familiar).

    :param reference_size: at most this many consolidated states are kept (a seeded subsample).
    :param width: a state ``width`` reference spacings from the nearest reference state has
        familiarity exp(-1).
    :param min_std: the scale of a dimension whose spread in the reference is below this.
    """

    def __init__(self, reference_size: int = 4096, width: float = 2.0, min_std: float = 1e-2) -> None:
        if isinstance(reference_size, bool) or not isinstance(reference_size, int) or reference_size < 2:
            raise ValueError(f"controller.reference_size={reference_size!r} is not allowed: expected an integer >= 2")
        for name, value in (("width", width), ("min_std", min_std)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"controller.{name}={value!r} is not allowed: expected a finite number > 0")
        self.reference_size, self.width, self.min_std = reference_size, float(width), float(min_std)
        self.reference: torch.Tensor | None = None  # scaled reference states
        self.mean = self.scale = None
        self.spacing = 0.0

    @property
    def fitted(self) -> bool:
        return self.reference is not None

    def fit(self, states: np.ndarray, rng: np.random.Generator) -> None:
        """Take ``states`` (the observations a sleep consolidated) as the reference."""
        states = np.asarray(states, dtype=np.float32)
        if states.ndim != 2 or len(states) < 2 or not np.isfinite(states).all():
            raise ValueError(f"familiarity reference has shape {states.shape}: expected (N >= 2, dim), finite")
        if len(states) > self.reference_size:
            states = states[np.sort(rng.choice(len(states), self.reference_size, replace=False))]
        self.mean = states.mean(axis=0)
        self.scale = np.maximum(states.std(axis=0), self.min_std).astype(np.float32)
        self.reference = torch.as_tensor((states - self.mean) / self.scale)
        self.spacing = float(np.median(self._nearest(self.reference, leave_one_out=True)))
        if self.spacing <= 0:  # many identical states: any positive spacing is as good
            self.spacing = self.min_std

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Familiarity in [0, 1] of each row of ``obs`` (zeros before any fit)."""
        obs = np.asarray(obs, dtype=np.float32)
        single = obs.ndim == 1
        obs = obs.reshape(1, -1) if single else obs
        if not self.fitted:
            out = np.zeros(len(obs), dtype=np.float32)
        else:
            distance = self._nearest(torch.as_tensor((obs - self.mean) / self.scale))
            out = np.exp(-(distance / (self.width * self.spacing)) ** 2).astype(np.float32)
        return out[0] if single else out

    def _nearest(self, queries: torch.Tensor, leave_one_out: bool = False) -> np.ndarray:
        """Distance from each query to its nearest reference state (the query itself excluded
        when ``leave_one_out``: the queries are the reference)."""
        best = torch.full((len(queries),), float("inf"))
        with torch.no_grad():
            for start in range(0, len(self.reference), _CHUNK):
                block = torch.cdist(queries, self.reference[start:start + _CHUNK])
                if leave_one_out:
                    rows = torch.arange(start, min(start + _CHUNK, len(self.reference)))
                    block[rows, rows - start] = float("inf")
                best = torch.minimum(best, block.min(dim=1).values)
        return best.numpy().astype(np.float64)

    def state_dict(self) -> dict:
        if not self.fitted:
            return {}
        return {"reference": self.reference.clone(), "mean": torch.as_tensor(self.mean),
                "scale": torch.as_tensor(self.scale), "spacing": self.spacing}

    def load_state_dict(self, state: dict) -> None:
        if not state:
            self.reference, self.mean, self.scale, self.spacing = None, None, None, 0.0
            return
        self.reference = state["reference"].clone()
        self.mean, self.scale = state["mean"].numpy(), state["scale"].numpy()
        self.spacing = float(state["spacing"])
