"""Value checks of config settings: a bad value is refused before any training, with a message
naming the full config key and what is allowed. Shared by the agent's settings and, through
consolidation/checks.py, the consolidation settings."""

from __future__ import annotations

import math
from typing import Any


def check_number(key: str, value: Any, low: float, high: float = math.inf, integer: bool = False) -> None:
    """Config value ``key`` in [low, high] (and an integer if asked), or a ValueError naming it."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        and low <= value <= high and (not integer or float(value).is_integer())
    if not ok:
        kind = "an integer" if integer else "a finite number"
        bound = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"{key}={value!r} is not allowed: expected {kind} {bound}")
