"""A hippocampal trace that fades: one bounded store shared by every task, overwritten by new experience.

The default episodic memory (:class:`consolidation.memory.EpisodicMemory`) keeps a reservoir
per task, so a later sleep can always rescue a task learned long ago: the upper bound. A
hippocampal trace is not kept like that. It is overwritten by what is learned next, which is
what makes the *timing* of consolidation matter: what sleep has not moved out of the
hippocampus before the next task fills it is gone (Shadmehr and Brashers-Krug 1997 read their
gap effect this way). Here every task's transitions enter one store of ``capacity`` rows; once
it is full, new experience overwrites the oldest row (``fifo``) or, by reservoir sampling over
all tasks' stream, a uniform row of everything offered so far (``reservoir``: the trace of a
task fades in proportion to what came after it, not all at once).

:data:`MEMORIES` names the memory kinds (the ``memory`` config options) and
:func:`load_memory` reads a saved memory of either kind.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from consolidation.memory import (
    _FORMAT_VERSION,
    _STORED_FIELDS,
    OVERWRITE_RULES,
    EpisodicMemory,
    _check_float,
    _check_index,
    _TaskStore,
    check_sizes,
    load_stores,
    save_stores,
)

_IDENTITY_FIELDS = ("task", "phase", "step")  # what tells two stored rows apart


class SharedEpisodicMemory(EpisodicMemory):
    """One store of at most ``capacity`` tagged wake transitions for all tasks (a ``task`` field
    says whose), overwritten by ``overwrite`` once full: :data:`consolidation.memory.OVERWRITE_RULES`.

    The interface is :class:`EpisodicMemory`'s, with one difference that follows from fading:
    :attr:`tasks` lists the tasks that still have a row, so a task whose trace was overwritten
    entirely is no longer replayed by any sleep (and reading it raises ValueError). Each task's
    rows read in slot order, the order :meth:`relabel` expects. ``count_seen`` counts what a
    task was offered, ``count_stored`` what is left of it.
    """

    kind = "shared"

    @dataclass
    class Schema:
        """The settings of the ``memory=shared`` option (the experiment gives the dims and seed).

        :param capacity: transitions kept in all, over every task.
        :param overwrite: how a full store makes room: ``fifo`` (the oldest row) or ``reservoir``
            (a uniform sample of every task's stream together).
        """

        capacity: int = 20_000
        overwrite: str = "fifo"

    def __init__(self, capacity: int, obs_dim: int, action_dim: int, seed: int = 0, overwrite: str = "fifo"):
        check_sizes(capacity=capacity, obs_dim=obs_dim, action_dim=action_dim)
        _check_index("seed", seed)
        if overwrite not in OVERWRITE_RULES:
            raise ValueError(f"memory.overwrite={overwrite!r} is not allowed: expected one of {list(OVERWRITE_RULES)}")
        self.capacity, self.obs_dim, self.action_dim = int(capacity), int(obs_dim), int(action_dim)
        self.seed, self.overwrite = int(seed), overwrite
        self._trace = _TaskStore(self.capacity, self.obs_dim, self.action_dim, np.random.default_rng([self.seed]),
                                 overwrite, fields=(*_STORED_FIELDS, "task"))
        self._seen: dict[int, int] = {}

    # ------------------------------------------------------------------ writing
    def _offer(self, task: int, batch: dict[str, np.ndarray]) -> None:
        n = len(batch["obs"])
        self._seen[task] = self._seen.get(task, 0) + n
        if n:
            self._trace.add({**batch, "task": np.full(n, task, dtype=np.int32)})

    def relabel(self, task: int, action_mean, action_log_std) -> None:
        """Replace the cortical targets of every row ``task`` still holds (arrays() order)."""
        rows = self._rows(_check_index("task", task))
        shape = (len(rows), self.action_dim)
        self._trace.view("action_mean")[rows] = _check_float("action_mean", action_mean, shape)
        self._trace.view("action_log_std")[rows] = _check_float("action_log_std", action_log_std, shape)

    def adopt_wake(self, source: SharedEpisodicMemory, task: int, phase: int) -> None:
        """Take over what wake phase ``phase`` wrote from ``source``, a memory that lived through
        the same wake in another run (the shared-phase cache).

        In a shared store a wake also overwrites other tasks' rows, but which slots it writes
        depends only on the store's counters and generator, never on the stored values. So the
        rows ``source`` wrote in ``phase`` (with every field, ``task`` included), its counters and
        its generator are taken; every row it did not write stays as it is here (a sleep of this
        run may have relabelled it), after checking that those rows are the same transitions.
        """
        if not isinstance(source, SharedEpisodicMemory):
            raise ValueError(f"the source memory is a {type(source).__name__}, expected a SharedEpisodicMemory")
        theirs, mine = source._trace, self._trace
        written = theirs.view("phase") == phase
        kept = ~written[: mine.size]
        same = all(np.array_equal(theirs.view(f)[: mine.size][kept], mine.view(f)[kept]) for f in _IDENTITY_FIELDS)
        if theirs.size < mine.size or (~written[mine.size:]).any() or not same:
            raise ValueError(f"the source memory does not continue this one ({mine.size} rows here, {theirs.size} "
                             f"there; rows not written in phase {phase} must be the same transitions)")
        mine.take_rows(theirs, written)
        self._seen[_check_index("task", task)] = source.count_seen(task)

    # ------------------------------------------------------------------ reading
    @property
    def tasks(self) -> list[int]:
        """Tasks that still hold at least one row, sorted."""
        return sorted(int(t) for t in np.unique(self._trace.view("task")))

    def __len__(self) -> int:
        return self._trace.size

    def count_seen(self, task: int) -> int:
        return self._seen.get(_check_index("task", task), 0)

    def count_stored(self, task: int) -> int:
        return int((self._trace.view("task") == _check_index("task", task)).sum())

    def max_transitions(self, n_tasks: int) -> int:
        return self.capacity

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._trace.data.values())

    def arrays(self, tasks: Iterable[int] | None = None) -> dict[str, np.ndarray]:
        """Copies of every field in :attr:`FIELDS`, concatenated over ``tasks`` (all still held if
        None), each task's rows in slot order."""
        tasks = self.tasks if tasks is None else [_check_index("task", t) for t in tasks]
        unknown = [t for t in tasks if t not in self.tasks]
        if unknown:
            raise ValueError(f"tasks={unknown!r} are not allowed: tasks still held are {self.tasks}")
        rows = np.concatenate([self._rows(t) for t in tasks]) if tasks else np.empty(0, dtype=np.int64)
        return {name: self._trace.view(name)[rows] for name in self.FIELDS}

    def _rows(self, task: int) -> np.ndarray:
        rows = np.flatnonzero(self._trace.view("task") == task)
        if not len(rows):
            raise ValueError(f"task={task!r} is not allowed: tasks still held are {self.tasks}")
        return rows

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz (no pickle) atomically, with the counters and the generator's state, so a
        loaded memory overwrites the very same slots next."""
        store = self._trace
        meta = {"version": _FORMAT_VERSION, "kind": self.kind, "capacity": self.capacity, "obs_dim": self.obs_dim,
                "action_dim": self.action_dim, "seed": self.seed, "overwrite": self.overwrite,
                "size": store.size, "offered": store.seen, "seen": {str(t): n for t, n in self._seen.items()},
                "rng": store.rng.bit_generator.state}
        save_stores(path, meta, {"trace": store})

    @classmethod
    def load(cls, path: str | os.PathLike) -> SharedEpisodicMemory:
        """Read a file written by :meth:`save`; a truncated or corrupt file raises ValueError."""
        def build(meta, npz) -> SharedEpisodicMemory:
            if meta.get("version") != _FORMAT_VERSION or meta.get("kind") != cls.kind:
                raise ValueError(f"format {meta.get('kind')!r} version {meta.get('version')!r}, "
                                 f"expected {cls.kind!r} version {_FORMAT_VERSION}")
            memory = cls(meta["capacity"], meta["obs_dim"], meta["action_dim"], meta["seed"], meta["overwrite"])
            memory._trace.restore(meta["offered"], meta["size"], meta["rng"], npz, "trace")
            memory._seen = {int(t): int(n) for t, n in meta["seen"].items()}
            return memory
        return load_stores(path, "shared episodic memory", build)


#: The memory kinds: the ``memory`` config options (configs/memory/) and the ``kind`` their files carry.
MEMORIES: dict[str, type[EpisodicMemory]] = {"per_task": EpisodicMemory, "shared": SharedEpisodicMemory}


def load_memory(path: str | os.PathLike) -> EpisodicMemory:
    """A saved memory of any kind (a file without a ``kind`` is a per-task memory, as all were at first)."""
    kind = "per_task"
    try:
        with np.load(path, allow_pickle=False) as npz:
            kind = json.loads(str(npz["meta"])).get("kind", "per_task")
    except (ValueError, KeyError, OSError, EOFError, TypeError, zipfile.BadZipFile):
        pass  # a missing or damaged file: the per-task reader says what is wrong with it
    if kind not in MEMORIES:
        raise ValueError(f"{path} holds a memory of kind {kind!r}: expected one of {sorted(MEMORIES)}")
    return MEMORIES[kind].load(path)
