"""A protocol: the schedule of wake, sleep and test phases an agent lives through.

The default, ``A, sleep, B, sleep``, asks the testbed's question: after learning a
conflicting B, how much of A survives, in the cortex and in the subcortical store? With
``test_after_every_phase`` a test follows every wake and sleep, so R has one row per phase
and forgetting curves exist.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PHASE_KINDS = ("wake", "sleep", "test")


@dataclass(frozen=True)
class Phase:
    """One phase. ``wake`` trains the cortex on ``context`` for ``steps`` env steps; ``sleep``
    consolidates offline with ``updates`` student updates (None: the strategy's count, filled in
    by :meth:`Protocol.with_sleep_updates`); ``test`` evaluates."""

    kind: str
    context: str | None = None
    steps: int | None = None
    updates: int | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.context}" if self.kind == "wake" else self.kind


class Protocol:
    """An ordered list of phases (the ``protocol`` config option).

    Args:
        phases: dicts with ``kind`` (wake, sleep, test) and, for wake, ``context`` (a label of
            ``env.contexts``) and ``steps``; for sleep, optionally ``updates``.
        test_after_every_phase: insert a test after every wake and sleep phase.
    """

    def __init__(self, phases: Sequence[Mapping[str, Any]], test_after_every_phase: bool = True) -> None:
        if not phases:
            raise ValueError("protocol.phases is empty: expected a list such as [{kind: wake, context: A, "
                             "steps: 200000}, {kind: sleep}]")
        parsed = [_parse(i, p) for i, p in enumerate(phases)]
        if not any(p.kind == "wake" for p in parsed):
            raise ValueError("protocol.phases has no wake phase: nothing would be learned")
        if parsed[0].kind != "wake":
            raise ValueError(f"protocol.phases[0].kind={parsed[0].kind!r} is not allowed: the first phase must be wake")
        self.test_after_every_phase = bool(test_after_every_phase)
        self.phases = self._with_tests(parsed) if self.test_after_every_phase else parsed

    @staticmethod
    def _with_tests(phases: list[Phase]) -> list[Phase]:
        result: list[Phase] = []
        for phase in phases:
            if phase.kind == "test" and result and result[-1].kind == "test":
                continue  # a test right after a test would repeat the same row
            result.append(phase)
            if phase.kind != "test":
                result.append(Phase("test"))
        return result

    @property
    def contexts(self) -> list[str]:
        """Context labels in the order they are first learned (the task order of R)."""
        seen: list[str] = []
        for phase in self.phases:
            if phase.kind == "wake" and phase.context not in seen:
                seen.append(phase.context)
        return seen

    def with_sleep_updates(self, default: int | None) -> Protocol:
        """This protocol with every sleep phase's number of student updates filled in: its own
        when it sets one, else ``default`` (the strategy's; None for a strategy that does not
        sleep). The experiment passes each phase's count to the strategy, the only channel."""
        resolved = copy.copy(self)
        resolved.phases = [dataclasses.replace(p, updates=default) if p.kind == "sleep" and p.updates is None else p
                           for p in self.phases]
        return resolved

    def sleep_updates_after(self, index: int) -> int:
        """Student updates of the sleep phases after phase ``index`` and before the next wake
        (what an awake control that replays during wake ``index`` must match)."""
        total = 0
        for phase in self.phases[index + 1:]:
            if phase.kind == "wake":
                break
            total += phase.updates or 0 if phase.kind == "sleep" else 0
        return total

    def last_wake_before(self, index: int) -> str | None:
        """The context of the last wake phase before phase ``index`` (None before the first wake)."""
        wakes = [p.context for p in self.phases[:index] if p.kind == "wake"]
        return wakes[-1] if wakes else None

    def __iter__(self):
        return iter(self.phases)

    def __len__(self) -> int:
        return len(self.phases)

    def describe(self) -> str:
        return ", ".join(p.context if p.kind == "wake" else p.kind for p in self.phases)


def _parse(index: int, raw: Mapping[str, Any]) -> Phase:
    raw = {k: v for k, v in dict(raw).items() if v is not None}  # the schema fills unset keys with null
    kind = raw.pop("kind", None)
    if kind not in PHASE_KINDS:
        raise ValueError(f"protocol.phases[{index}].kind={kind!r} is not allowed: expected one of {list(PHASE_KINDS)}")
    allowed = {"wake": {"context", "steps"}, "sleep": {"updates"}, "test": set()}[kind]
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"protocol.phases[{index}] ({kind}) has unknown key(s) {unknown}: "
                         f"allowed are {sorted(allowed)}")
    if kind == "wake":
        if not raw.get("context"):
            raise ValueError(f"protocol.phases[{index}].context is missing: a wake phase needs a context label")
        steps = raw.get("steps")
        if steps is None or int(steps) < 1:
            raise ValueError(f"protocol.phases[{index}].steps={steps!r} is not allowed: expected an integer >= 1")
        return Phase("wake", context=str(raw["context"]), steps=int(steps))
    if kind == "sleep":
        updates = raw.get("updates")
        if updates is not None and int(updates) < 1:
            raise ValueError(f"protocol.phases[{index}].updates={updates!r} is not allowed: expected an integer >= 1")
        return Phase("sleep", updates=None if updates is None else int(updates))
    return Phase("test")
