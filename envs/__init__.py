"""MuJoCo task families of motorsleep (reach, muscle reach, balance, stand) and their interfering contexts.

``import envs`` registers the gymnasium ids listed in :data:`REGISTERED_IDS`:
``motorsleep/Reach-v0``, ``motorsleep/MuscleReach-v0``, ``motorsleep/Balance-v0`` and
``motorsleep/Stand-v0`` (null context, every keyword open), and one preset id per named context,
e.g. ``motorsleep/ReachCurlCW-v0``. The muscle arm takes the reach family's contexts.
"""

from __future__ import annotations

import gymnasium

from envs.balance import BalanceEnv
from envs.contexts import (
    BALANCE_CONTEXTS,
    REACH_CONTEXTS,
    STAND_CONTEXTS,
    BalanceContext,
    ReachContext,
    StandContext,
    resolve_context,
)
from envs.muscle_reach import MuscleReachEnv
from envs.reach import ReachEnv
from envs.stand import StandEnv

REACH_MAX_STEPS = 50
MUSCLE_REACH_MAX_STEPS = 100  # 1 s of 10 ms control steps, as Reach's 50 of 20 ms
BALANCE_MAX_STEPS = 250
STAND_MAX_STEPS = 250  # 5 s of 20 ms control steps, as Balance

# preset id suffix -> context name
_REACH_PRESETS = {"": "null", "CurlCW": "curl_cw", "CurlCCW": "curl_ccw",
                  "RotPlus30": "rot_plus30", "RotMinus30": "rot_minus30"}
_BALANCE_PRESETS = {"": "null", "TiltLeft": "tilt_left", "TiltRight": "tilt_right",
                    "MassLight": "mass_light", "MassHeavy": "mass_heavy",
                    "FrictionLow": "friction_low", "FrictionHigh": "friction_high"}
_STAND_PRESETS = {"": "null", "TiltForward": "tilt_forward", "TiltBackward": "tilt_backward",
                  "TranslateForward": "translate_forward", "TranslateBackward": "translate_backward",
                  "GravityTiltPlus": "gravity_tilt_plus", "GravityTiltMinus": "gravity_tilt_minus",
                  "Heavy": "heavy", "Light": "light"}

FAMILY_MAX_STEPS = {"reach": REACH_MAX_STEPS, "muscle_reach": MUSCLE_REACH_MAX_STEPS, "balance": BALANCE_MAX_STEPS,
                    "stand": STAND_MAX_STEPS}
ENTRY_POINTS = {"reach": "envs.reach:ReachEnv", "muscle_reach": "envs.muscle_reach:MuscleReachEnv",
                "balance": "envs.balance:BalanceEnv", "stand": "envs.stand:StandEnv"}
REGISTERED_IDS: dict[str, tuple[str, str]] = {}  # id -> (family, context name)


def _register_all() -> None:
    for family, prefix, presets in (("reach", "Reach", _REACH_PRESETS), ("muscle_reach", "MuscleReach", _REACH_PRESETS),
                                    ("balance", "Balance", _BALANCE_PRESETS), ("stand", "Stand", _STAND_PRESETS)):
        for suffix, context in presets.items():
            env_id = f"motorsleep/{prefix}{suffix}-v0"
            REGISTERED_IDS[env_id] = (family, context)
            if env_id in gymnasium.registry:
                continue
            gymnasium.register(
                id=env_id,
                entry_point=ENTRY_POINTS[family],
                max_episode_steps=FAMILY_MAX_STEPS[family],
                # the passive checker wraps every step for a first-step check; tests run
                # gymnasium's and SB3's full check_env on every id instead
                disable_env_checker=True,
                kwargs={"context": context},
            )


def env_id_for(family: str, context: str) -> str:
    """The registered id of a preset context, e.g. ('reach', 'curl_cw') -> 'motorsleep/ReachCurlCW-v0'."""
    for env_id, key in REGISTERED_IDS.items():
        if key == (family, context):
            return env_id
    raise ValueError(f"no registered id for family={family!r}, context={context!r}: "
                     f"known pairs are {sorted(REGISTERED_IDS.values())}")


_register_all()

__all__ = [
    "BALANCE_CONTEXTS", "REACH_CONTEXTS", "REGISTERED_IDS", "FAMILY_MAX_STEPS", "STAND_CONTEXTS",
    "BalanceContext", "BalanceEnv", "MuscleReachEnv", "ReachContext", "ReachEnv", "StandContext", "StandEnv",
    "env_id_for", "resolve_context",
]
