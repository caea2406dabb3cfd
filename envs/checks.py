"""Argument checks shared by the envs: each error names the argument and the allowed range."""

from __future__ import annotations

import math

import numpy as np


def check_cue(context_id: int, n_contexts: int) -> None:
    if int(n_contexts) < 1:
        raise ValueError(f"n_contexts={n_contexts!r} is not allowed: expected an integer >= 1")
    if not 0 <= int(context_id) < int(n_contexts):
        raise ValueError(f"context_id={context_id!r} is not allowed: expected an integer in [0, {int(n_contexts) - 1}]")


def check_flag(**values: object) -> None:
    """A switch must be a real bool: ``bool("no")`` is True, so a string or number is refused, not cast."""
    for name, value in values.items():
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"{name}={value!r} is not allowed: expected True or False (a bool)")


def check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"{name}={value!r} is not allowed: expected a finite number > 0")


def check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(float(value)) and float(value) >= 0):
            raise ValueError(f"{name}={value!r} is not allowed: expected a finite number >= 0")


def check_count(**values: object) -> None:
    """A count of steps (a delay): an integer >= 0; a bool or a float is refused, not cast."""
    for name, value in values.items():
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or int(value) < 0:
            raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 0")


def check_probability(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(float(value)) and 0.0 <= float(value) <= 1.0):
            raise ValueError(f"{name}={value!r} is not allowed: expected a probability in [0, 1]")
