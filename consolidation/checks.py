"""Value checks of the consolidation settings: a bad value is refused before any training, with a
message naming the config key (``consolidation.<name>``) and what is allowed."""

from __future__ import annotations

import math
from typing import Any

from agents.checks import check_number as check_key


def check_number(name: str, value: Any, low: float, high: float = math.inf, integer: bool = False) -> None:
    """``consolidation.<name>`` in [low, high] (and an integer if asked), or a ValueError naming it."""
    check_key(f"consolidation.{name}", value, low, high, integer)
