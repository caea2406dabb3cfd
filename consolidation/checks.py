"""Value checks of the consolidation settings: a bad value is refused before any training, with a
message naming the config key and what is allowed."""

from __future__ import annotations

import math
from typing import Any


def check_number(name: str, value: Any, low: float, high: float = math.inf, integer: bool = False) -> None:
    """A config value in [low, high] (and an integer if asked), or a ValueError naming it."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        and low <= value <= high and (not integer or float(value).is_integer())
    if not ok:
        kind = "an integer" if integer else "a finite number"
        bound = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"consolidation.{name}={value!r} is not allowed: expected {kind} {bound}")
