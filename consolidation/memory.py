"""The episodic ("hippocampal") memory: a bounded, per-task uniform sample of tagged wake
transitions, filled in wake by :mod:`consolidation.tagging` and read in sleep.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fileio import atomic_path

_FORMAT_VERSION = 1
_FLOAT_FIELDS = ("obs", "action_mean", "action_log_std", "reward", "td_error", "novelty")
_STORED_FIELDS = (*_FLOAT_FIELDS, "phase", "step")  # "task" is implied by the per-task store
# Stored only once a task is offered a batch that has it (older callers and files have none):
# rows offered without it read as NaN, "not recorded".
_OPTIONAL_FIELDS = ("action", "next_obs", "bootstrap")
_DTYPES = {**dict.fromkeys((*_FLOAT_FIELDS, *_OPTIONAL_FIELDS), np.float32), "phase": np.int32,
           "step": np.int64, "task": np.int32}


def _widths(obs_dim: int, action_dim: int) -> dict[str, int]:
    """The width of each field that holds a vector per transition (the others hold one number)."""
    return {"obs": obs_dim, "next_obs": obs_dim, "action_mean": action_dim, "action_log_std": action_dim,
            "action": action_dim}


#: How a full store makes room: ``reservoir`` keeps a uniform sample of everything offered
#: (Vitter's algorithm R), ``fifo`` overwrites the oldest row (a trace that fades in order).
OVERWRITE_RULES = ("reservoir", "fifo")


class _TaskStore:
    """A bounded store of transitions: preallocated-by-doubling arrays, ``size`` kept, ``seen``
    offered. One per task in :class:`EpisodicMemory`; one for all tasks, with a ``task`` field,
    in :class:`consolidation.fading_memory.SharedEpisodicMemory`."""

    def __init__(self, capacity: int, obs_dim: int, action_dim: int, rng: np.random.Generator,
                 overwrite: str = "reservoir", fields: tuple[str, ...] = _STORED_FIELDS):
        self.capacity, self.rng, self.size, self.seen = capacity, rng, 0, 0
        self.overwrite = overwrite
        self.widths = _widths(obs_dim, action_dim)
        self.data = {f: np.empty((0, *self._width(f)), dtype=_DTYPES[f]) for f in fields}

    def _width(self, name: str) -> tuple[int, ...]:
        return (self.widths[name],) if name in self.widths else ()

    def add_optional(self, name: str) -> None:
        """Start storing optional field ``name``: every row allocated so far reads NaN."""
        if name not in self.data:
            self.data[name] = np.full((len(self.data["obs"]), *self._width(name)), np.nan,
                                      dtype=_DTYPES[name])

    def _reserve(self, size: int) -> None:
        allocated = len(self.data["obs"])
        if size <= allocated:
            return
        grown = min(self.capacity, max(size, 2 * allocated, 64))
        for name, old in self.data.items():
            new = np.empty((grown, *old.shape[1:]), dtype=old.dtype)
            new[: self.size] = old[: self.size]
            self.data[name] = new

    def add(self, batch: dict[str, np.ndarray]) -> None:
        n = len(batch["obs"])
        # Item number i (0-based over the store's whole stream) fills slot i while the store is
        # not full; then, by algorithm R, it replaces a uniform slot j in [0, i] if j < capacity,
        # or, first in first out, the oldest row, in slot i mod capacity.
        arrival = self.seen + np.arange(n)
        slots = arrival.copy()
        overflow = arrival >= self.capacity
        if overflow.any():
            slots[overflow] = (arrival[overflow] % self.capacity if self.overwrite == "fifo"
                               else self.rng.integers(0, arrival[overflow] + 1))
        keep = slots < self.capacity
        # Sequential semantics in one shot: when two items of the batch draw the same slot,
        # the later one wins, so keep only the last occurrence of each slot.
        items = np.flatnonzero(keep)
        reversed_slots = slots[items][::-1]
        _, first_in_reversed = np.unique(reversed_slots, return_index=True)
        items = items[len(items) - 1 - first_in_reversed]
        for name in _OPTIONAL_FIELDS:
            if name in batch:
                self.add_optional(name)
        self._reserve(min(self.capacity, self.seen + n))
        for name, array in self.data.items():  # an optional field the batch lacks: NaN
            array[slots[items]] = batch[name][items] if name in batch else np.nan
        self.size = min(self.capacity, self.seen + n)
        self.seen += n

    def take_rows(self, theirs: _TaskStore, written: np.ndarray) -> None:
        """Continue as ``theirs``: its rows where ``written``, its counters and its generator
        (what adopting a cached wake needs; the other rows stay as they are here)."""
        for name in _OPTIONAL_FIELDS:
            if name in theirs.data:
                self.add_optional(name)
        self._reserve(theirs.size)
        for name, array in self.data.items():
            array[: theirs.size][written] = theirs.view(name)[written]
        self.size, self.seen = theirs.size, theirs.seen
        self.rng.bit_generator.state = theirs.rng.bit_generator.state

    def restore(self, seen: int, size: int, rng_state: dict, npz, prefix: str) -> None:
        """Take back what :func:`save_stores` wrote under ``prefix``: counters, generator and rows."""
        self.rng.bit_generator.state = rng_state
        self._reserve(int(size))
        self.seen, self.size = int(seen), int(size)
        for name in _OPTIONAL_FIELDS:
            if f"{prefix}.{name}" in npz.files:
                self.add_optional(name)
        for name in self.data:
            values = npz[f"{prefix}.{name}"]
            if len(values) != self.size:
                raise ValueError(f"{prefix} field {name} holds {len(values)} rows, expected {self.size}")
            self.data[name][: self.size] = values

    def view(self, name: str) -> np.ndarray:
        if name not in self.data:  # an optional field never offered: not recorded
            return np.full((self.size, *self._width(name)), np.nan, dtype=_DTYPES[name])
        return self.data[name][: self.size]


class EpisodicMemory:
    """Bounded per-task reservoir of tagged wake transitions (Vitter's algorithm R per task).

    Each task keeps a uniform random sample of every transition it was offered, at most
    ``capacity_per_task`` of them, so early and late learning are represented alike. Each task
    draws from its own generator seeded by ``(seed, task)``: a task's sample depends only on its
    own stream, never on how other tasks' batches were interleaved with it.

    Observations, cortical targets, executed actions and tags are stored as float32 (half the
    bytes of float64, and what torch consumes in sleep); ``phase`` as int32 and ``step`` as int64.
    The executed ``action`` is optional (behaviour cloning needs it, distillation does not), as
    are ``next_obs`` and ``bootstrap`` (the successor observation and the factor on its value in
    the TD target: 1 within an episode, 0 at its end), which a sleep needs to recompute the TD
    error with the current critic. A task allocates an optional field only once offered a batch
    that has it, and rows offered without it read as NaN ("not recorded"), as do memories saved
    before the field existed.
    """

    FIELDS = ("obs", "action_mean", "action_log_std", "action", "reward", "td_error", "novelty",
              "next_obs", "bootstrap", "task", "phase", "step")
    #: the config option (configs/memory/) and the ``kind`` its files carry
    kind = "per_task"

    @dataclass
    class Schema:
        """The settings of the ``memory=per_task`` option (the experiment gives the dims and seed).

        :param capacity_per_task: transitions kept per task (a uniform sample of its whole stream).
        """

        capacity_per_task: int = 20_000

    def __init__(self, capacity_per_task: int, obs_dim: int, action_dim: int, seed: int = 0):
        check_sizes(capacity_per_task=capacity_per_task, obs_dim=obs_dim, action_dim=action_dim)
        _check_index("seed", seed)
        self.capacity_per_task, self.obs_dim = int(capacity_per_task), int(obs_dim)
        self.action_dim, self.seed = int(action_dim), int(seed)
        self._stores: dict[int, _TaskStore] = {}

    # ------------------------------------------------------------------ writing
    def add(self, task: int, phase: int, obs, action_mean, action_log_std, reward, td_error,
            novelty, step=None, action=None, next_obs=None, bootstrap=None) -> None:
        """Offer a batch of ``N`` transitions of ``task`` (every array has leading dim ``N``).

        ``obs`` is (N, obs_dim), ``action_mean``/``action_log_std`` are (N, action_dim),
        ``reward``/``td_error``/``novelty`` are (N,); ``step`` (N,) is the learner's timestep of
        each transition, or None to store the arrival index within the task; ``action``
        (N, action_dim) is the action executed in the env, or None when not recorded (NaN);
        ``next_obs`` (N, obs_dim) and ``bootstrap`` (N,) the successor and the factor on its value
        in the TD target, or None when not recorded.
        """
        task, phase = _check_index("task", task), _check_index("phase", phase)
        obs = _check_float("obs", obs, (None, self.obs_dim))
        n = len(obs)
        batch = {
            "obs": obs,
            "action_mean": _check_float("action_mean", action_mean, (n, self.action_dim)),
            "action_log_std": _check_float("action_log_std", action_log_std, (n, self.action_dim)),
            "reward": _check_float("reward", reward, (n,)),
            "td_error": _check_float("td_error", td_error, (n,)),
            "novelty": _check_float("novelty", novelty, (n,)),
            "phase": np.full(n, phase, dtype=np.int32),
        }
        if action is not None:
            batch["action"] = _check_float("action", action, (n, self.action_dim))
        if next_obs is not None:
            batch["next_obs"] = _check_float("next_obs", next_obs, (n, self.obs_dim))
        if bootstrap is not None:
            batch["bootstrap"] = _check_float("bootstrap", bootstrap, (n,))
        if step is None:
            batch["step"] = self.count_seen(task) + np.arange(n, dtype=np.int64)
        else:
            step = np.asarray(step)
            if step.shape != (n,) or not np.issubdtype(step.dtype, np.integer):
                raise ValueError(f"step has shape {step.shape} and dtype {step.dtype}: "
                                 f"expected integers of shape ({n},) or None")
            batch["step"] = step.astype(np.int64)
        self._offer(task, batch)

    def _offer(self, task: int, batch: dict[str, np.ndarray]) -> None:
        """Put a checked batch into ``task``'s reservoir (an empty batch still makes the task known)."""
        store = self._store(task)
        if len(batch["obs"]):
            store.add(batch)

    def relabel(self, task: int, action_mean, action_log_std) -> None:
        """Replace the cortical targets of every stored transition of ``task`` (arrays() order)."""
        store = self._stores.get(_check_index("task", task))
        if store is None:
            raise ValueError(f"task={task!r} is not allowed: stored tasks are {self.tasks}")
        shape = (store.size, self.action_dim)
        store.view("action_mean")[:] = _check_float("action_mean", action_mean, shape)
        store.view("action_log_std")[:] = _check_float("action_log_std", action_log_std, shape)

    def adopt_wake(self, source: EpisodicMemory, task: int, phase: int) -> None:
        """Take over what wake phase ``phase`` wrote for ``task`` from ``source``, a memory that
        lived through the same wake in another run (the shared-phase cache).

        A wake writes only its own task's store, and which slots it overwrites depends only on
        that task's counters and generator, never on the stored values. So the rows ``source``
        wrote in ``phase``, its counters and its generator are taken; every other row stays as
        it is here (a sleep of this run may have relabelled it).
        """
        theirs = source._stores.get(_check_index("task", task))
        if theirs is None:
            raise ValueError(f"task={task!r} is not allowed: the source memory holds tasks {source.tasks}")
        mine = self._store(task)
        written = theirs.view("phase") == phase
        if theirs.size < mine.size or (~written[mine.size:]).any():
            raise ValueError(f"the source memory's task {task} does not continue this one "
                             f"({mine.size} rows here, {theirs.size} there, some not written in phase {phase})")
        mine.take_rows(theirs, written)

    # ------------------------------------------------------------------ reading
    @property
    def tasks(self) -> list[int]:
        """Tasks with at least one offered batch, sorted."""
        return sorted(self._stores)

    def __len__(self) -> int:
        return sum(store.size for store in self._stores.values())

    def count_seen(self, task: int) -> int:
        """Transitions of ``task`` offered so far (stored or not); 0 for an unseen task."""
        store = self._stores.get(_check_index("task", task))
        return 0 if store is None else store.seen

    def count_stored(self, task: int) -> int:
        """Transitions of ``task`` held: ``min(count_seen(task), capacity_per_task)``."""
        store = self._stores.get(_check_index("task", task))
        return 0 if store is None else store.size

    def max_transitions(self, n_tasks: int) -> int:
        """The most transitions this memory can hold once ``n_tasks`` tasks were offered."""
        return self.capacity_per_task * n_tasks

    @property
    def nbytes(self) -> int:
        """Bytes of the allocated arrays (grown by doubling up to the capacity)."""
        return sum(a.nbytes for store in self._stores.values() for a in store.data.values())

    def arrays(self, tasks: Iterable[int] | None = None) -> dict[str, np.ndarray]:
        """Copies of every field in :attr:`FIELDS`, concatenated over ``tasks`` (all if None).

        Order is stable: tasks in the order given (sorted if None), each task in slot order,
        the order :meth:`relabel` expects.
        """
        tasks = self.tasks if tasks is None else [_check_index("task", t) for t in tasks]
        unknown = [t for t in tasks if t not in self._stores]
        if unknown:
            raise ValueError(f"tasks={unknown!r} are not allowed: stored tasks are {self.tasks}")
        out, widths = {}, _widths(self.obs_dim, self.action_dim)
        for name in self.FIELDS:
            if name == "task":
                parts = [np.full(self._stores[t].size, t, dtype=np.int32) for t in tasks]
            else:
                parts = [self._stores[t].view(name) for t in tasks]
            width = (widths[name],) if name in widths else ()
            out[name] = (np.concatenate(parts) if parts
                         else np.empty((0, *width), dtype=_DTYPES[name]))
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz (no pickle) atomically: temp file in the same directory, fsync, rename.

        The file holds every stored field, the capacity and dims, per-task counts and each task's
        generator state (JSON), so a loaded memory continues the very same reservoir sequence.
        """
        meta = {"version": _FORMAT_VERSION, "capacity_per_task": self.capacity_per_task,
                "obs_dim": self.obs_dim, "action_dim": self.action_dim, "seed": self.seed,
                "tasks": {str(t): {"seen": s.seen, "size": s.size,
                                   "rng": s.rng.bit_generator.state}
                          for t, s in self._stores.items()}}
        save_stores(path, meta, {f"task{t}": store for t, store in self._stores.items()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> EpisodicMemory:
        """Read a file written by :meth:`save`; a truncated or corrupt file raises ValueError."""
        def build(meta, npz) -> EpisodicMemory:
            if meta.get("version") != _FORMAT_VERSION:
                raise ValueError(f"format version {meta.get('version')!r}, expected {_FORMAT_VERSION}")
            memory = cls(meta["capacity_per_task"], meta["obs_dim"], meta["action_dim"], meta["seed"])
            for key, info in meta["tasks"].items():
                memory._store(int(key)).restore(info["seen"], info["size"], info["rng"], npz, f"task{key}")
            return memory
        return load_stores(path, "episodic memory", build)

    def _store(self, task: int) -> _TaskStore:
        if task not in self._stores:
            rng = np.random.default_rng([self.seed, task])
            self._stores[task] = _TaskStore(self.capacity_per_task, self.obs_dim,
                                            self.action_dim, rng)
        return self._stores[task]


def save_stores(path: str | os.PathLike, meta: dict, stores: dict[str, _TaskStore]) -> None:
    """An .npz (no pickle) of ``meta`` (JSON) and each store's fields under its prefix, written to a
    temporary file in the same directory and renamed."""
    payload = {"meta": np.array(json.dumps(meta))}
    for prefix, store in stores.items():
        for name in store.data:  # an optional field only if the store has it
            payload[f"{prefix}.{name}"] = store.view(name)
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **payload)


def load_stores(path: str | os.PathLike, what: str, build):
    """``build(meta, npz)`` on a file :func:`save_stores` wrote; a missing file raises
    FileNotFoundError, a truncated or corrupt one ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no episodic memory file at {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return build(json.loads(str(npz["meta"])), npz)
    except (ValueError, KeyError, OSError, EOFError, TypeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a valid {what} file (truncated or corrupt?): {exc}") from exc


def check_sizes(**sizes) -> None:
    """Each named size is an integer >= 1, or a ValueError names it."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 1")


def _check_index(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 0")
    return int(value)


def _check_float(name: str, value, shape: tuple[int | None, ...]) -> np.ndarray:
    """``value`` as float32 of ``shape`` (None matches any length), finite everywhere."""
    array = np.asarray(value, dtype=np.float32)
    fits = array.ndim == len(shape) and all(
        s is None or s == a for s, a in zip(shape, array.shape, strict=True))
    if not fits:
        expected = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {array.shape}: expected {expected}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds non-finite values: expected finite numbers")
    return array
