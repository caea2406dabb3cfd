"""Interfering contexts of the task families, as small validated dataclasses.

A context is the part of the world that changes between task A and task B while the
goal stays the same: a force field or a visual rotation in reaching, a gravity tilt,
a mass or a friction change in balance, a platform perturbation in standing. Configs carry
a context as a preset name or a plain dict; :func:`resolve_context` turns either into the
dataclass the env uses.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def _require_finite(name: str, value: float, allowed: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not allowed: expected {allowed}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not allowed: expected {allowed}")
    return value


def _gravity_tilt(value: float) -> float:
    tilt = _require_finite("gravity_tilt_deg", value, "a float in (-45, 45)")
    if not -45.0 < tilt < 45.0:
        raise ValueError(f"gravity_tilt_deg={tilt!r} is not allowed: expected a float in (-45, 45)")
    return tilt


def _mass_scale(value: float) -> float:
    mass = _require_finite("mass_scale", value, "a finite float > 0")
    if mass <= 0.0:
        raise ValueError(f"mass_scale={mass!r} is not allowed: expected a finite float > 0")
    return mass


@dataclass(frozen=True)
class ReachContext:
    """Dynamics and visual feedback of the reaching arm.

    Attributes:
        curl_field: b in F = b [[0, 1], [-1, 0]] v (N s/m), the velocity-dependent force at
            the hand. b > 0 turns the hand's path clockwise, b < 0 counter-clockwise, 0 is
            the null field.
        rotation_deg: visuomotor rotation (degrees, counter-clockwise positive) of the
            *observed* hand and target positions about the start position. Physics is
            unchanged; only what the agent sees rotates.
    """

    curl_field: float = 0.0
    rotation_deg: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "curl_field", _require_finite("curl_field", self.curl_field, "a finite float (N s/m)")
        )
        rot = _require_finite("rotation_deg", self.rotation_deg, "a finite float in [-180, 180]")
        if not -180.0 <= rot <= 180.0:
            raise ValueError(f"rotation_deg={rot!r} is not allowed: expected a float in [-180, 180]")
        object.__setattr__(self, "rotation_deg", rot)


@dataclass(frozen=True)
class BalanceContext:
    """Dynamics of the balanced body (a pole on a cart).

    Attributes:
        gravity_tilt_deg: lateral tilt of gravity (degrees) in the plane of motion; > 0 pulls
            towards +x ("right"), < 0 towards -x ("left"). |tilt| < 45.
        mass_scale: factor on the pole's mass and inertia; > 0.
        friction_scale: factor on the cart's rail friction (Coulomb friction loss and
            viscous damping); >= 0.
    """

    gravity_tilt_deg: float = 0.0
    mass_scale: float = 1.0
    friction_scale: float = 1.0

    def __post_init__(self) -> None:
        tilt, mass = _gravity_tilt(self.gravity_tilt_deg), _mass_scale(self.mass_scale)
        fric = _require_finite("friction_scale", self.friction_scale, "a finite float >= 0")
        if fric < 0.0:
            raise ValueError(f"friction_scale={fric!r} is not allowed: expected a finite float >= 0")
        object.__setattr__(self, "gravity_tilt_deg", tilt)
        object.__setattr__(self, "mass_scale", mass)
        object.__setattr__(self, "friction_scale", fric)


@dataclass(frozen=True)
class StandContext:
    """The standing body's world (see :class:`envs.stand.StandEnv`).

    Attributes:
        platform_tilt_deg: the platform's rotation about the ankle axis (degrees) once the
            episode's perturbation is over; > 0 pitches it forward (toes down), < 0 backward
            (toes up, as in Nashner's rotations). |tilt| <= 30.
        platform_shift: the platform's displacement (m) once the perturbation is over; > 0
            forward (towards the toes: the body sways backward), < 0 backward. |shift| <= 1.
        gravity_tilt_deg: gravity tilted in the sagittal plane (degrees); > 0 pulls towards
            the toes, < 0 towards the heels. |tilt| < 45.
        mass_scale: factor on the legs' and the trunk's masses and inertias; > 0.
    """

    platform_tilt_deg: float = 0.0
    platform_shift: float = 0.0
    gravity_tilt_deg: float = 0.0
    mass_scale: float = 1.0

    def __post_init__(self) -> None:
        tilt = _require_finite("platform_tilt_deg", self.platform_tilt_deg, "a float in [-30, 30]")
        if not -30.0 <= tilt <= 30.0:
            raise ValueError(f"platform_tilt_deg={tilt!r} is not allowed: expected a float in [-30, 30]")
        shift = _require_finite("platform_shift", self.platform_shift, "a float in [-1, 1] (m)")
        if not -1.0 <= shift <= 1.0:
            raise ValueError(f"platform_shift={shift!r} is not allowed: expected a float in [-1, 1] (m)")
        gravity, mass = _gravity_tilt(self.gravity_tilt_deg), _mass_scale(self.mass_scale)
        for name, value in (("platform_tilt_deg", tilt), ("platform_shift", shift),
                            ("gravity_tilt_deg", gravity), ("mass_scale", mass)):
            object.__setattr__(self, name, value)


# Named presets. The interfering pairs' strengths were chosen by
# scripts/interference_matrix.py (README, "Measured interference").
REACH_CONTEXTS: dict[str, ReachContext] = {
    "null": ReachContext(),
    "curl_cw": ReachContext(curl_field=20.0),
    "curl_ccw": ReachContext(curl_field=-20.0),
    "rot_plus30": ReachContext(rotation_deg=30.0),
    "rot_minus30": ReachContext(rotation_deg=-30.0),
}

BALANCE_CONTEXTS: dict[str, BalanceContext] = {
    "null": BalanceContext(),
    "tilt_left": BalanceContext(gravity_tilt_deg=-15.0),
    "tilt_right": BalanceContext(gravity_tilt_deg=15.0),
    "mass_light": BalanceContext(mass_scale=0.5),
    "mass_heavy": BalanceContext(mass_scale=2.0),
    "friction_low": BalanceContext(friction_scale=0.0),
    "friction_high": BalanceContext(friction_scale=20.0),
}

# The stand presets' strengths, and how much each pair conflicts for a PD tuned to one of them:
# see the docstring of envs/stand.py ("Contexts").
STAND_CONTEXTS: dict[str, StandContext] = {
    "null": StandContext(),
    "tilt_forward": StandContext(platform_tilt_deg=10.0),      # toes down 10 degrees
    "tilt_backward": StandContext(platform_tilt_deg=-10.0),    # toes up 10 degrees
    "translate_forward": StandContext(platform_shift=0.15),    # 15 cm towards the toes: the body sways back
    "translate_backward": StandContext(platform_shift=-0.15),  # 15 cm towards the heels: it sways forward
    "gravity_tilt_plus": StandContext(gravity_tilt_deg=8.0),   # pulled towards the toes
    "gravity_tilt_minus": StandContext(gravity_tilt_deg=-8.0),  # pulled towards the heels
    "heavy": StandContext(mass_scale=2.0),
    "light": StandContext(mass_scale=0.5),
}

FAMILIES: dict[str, tuple[type, dict[str, Any]]] = {
    "reach": (ReachContext, REACH_CONTEXTS),
    "muscle_reach": (ReachContext, REACH_CONTEXTS),  # the same arm task on muscles: the same contexts
    "balance": (BalanceContext, BALANCE_CONTEXTS),
    "stand": (StandContext, STAND_CONTEXTS),
}


def describe_context(context: Any) -> str:
    """A context as a table or legend shows it: a preset's name, or its fields, e.g.
    ``curl_field=30`` for ``{"curl_field": 30.0}``."""
    if isinstance(context, Mapping):
        return ", ".join(f"{k}={v:g}" if isinstance(v, int | float) else f"{k}={v}" for k, v in context.items())
    return "null" if context is None else str(context)


def resolve_context(family: str,
                    context: str | Mapping[str, Any] | ReachContext | BalanceContext | StandContext | None):
    """Return the context dataclass of ``family`` named or described by ``context``.

    ``context`` may be a preset name (see ``REACH_CONTEXTS``, ``BALANCE_CONTEXTS``,
    ``STAND_CONTEXTS``), a dict
    of the dataclass's fields (missing fields take the null context's values), an instance,
    or None for the null context. Anything else raises a ``ValueError`` naming the allowed
    values.
    """
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not allowed: expected one of {sorted(FAMILIES)}")
    cls, presets = FAMILIES[family]
    if context is None:
        return cls()
    if isinstance(context, cls):
        return context
    if isinstance(context, str):
        if context not in presets:
            raise ValueError(
                f"context={context!r} is not a {family} context: expected one of {sorted(presets)} "
                f"or a dict with keys {[f.name for f in dataclasses.fields(cls)]}"
            )
        return presets[context]
    if isinstance(context, Mapping):
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(context) - set(allowed))
        if unknown:
            raise ValueError(f"context has unknown {family} field(s) {unknown}: allowed fields are {allowed}")
        return cls(**dict(context))
    raise ValueError(
        f"context={context!r} is not allowed: expected a {family} preset name {sorted(presets)}, "
        f"a dict or a {cls.__name__}"
    )
