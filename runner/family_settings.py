"""Per-family settings of the measurement scripts, read from ``configs/measure/<family>.yaml``.

The task families are those of the one registry, :data:`envs.family.BASE_IDS`; a script that
lists families takes them from :data:`FAMILIES` and its per-family numbers from here, so a new
family needs a config file, not an edit of every script. What a family's runs need (budgets,
contexts) stays in its experiment presets (``bench_<family>``, ``quick_<family>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from envs import REGISTERED_IDS
from envs.family import BASE_IDS

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ROOT / "configs" / "measure"
FAMILIES: tuple[str, ...] = tuple(BASE_IDS)
HEADLINE_FAMILIES: tuple[str, ...] = ("reach", "balance")  # the headline benchmark's (scripts/reproduce.sh)


@dataclass
class FamilySettings:
    """What ``configs/measure/<family>.yaml`` holds (each key is documented there).

    Attributes:
        sb3_steps: training steps per context of the ``sb3`` learner of scripts/interference_matrix.py.
        plasticity_steps_a: steps to learn A in scripts/plasticity.py.
        plasticity_cap: the most steps B may take in scripts/plasticity.py.
        speed_ids: registered ids scripts/bench_envs.py times against ``mj_step`` of their model.
    """

    sb3_steps: int
    plasticity_steps_a: int
    plasticity_cap: int
    speed_ids: list[str] = field(default_factory=list)


def family_settings(family: str) -> FamilySettings:
    """The settings of ``family``; a ``ValueError`` naming the file and the field for a bad one."""
    if family not in BASE_IDS:
        raise ValueError(f"family={family!r} is not allowed: expected one of {list(FAMILIES)}")
    path = SETTINGS / f"{family}.yaml"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: every family of envs.family.BASE_IDS needs its measurement settings")
    try:
        settings = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(FamilySettings), OmegaConf.load(path)))
    except Exception as error:  # omegaconf's errors name the key; say which file it is in
        raise ValueError(f"{path}: {error}") from None
    for name in ("sb3_steps", "plasticity_steps_a", "plasticity_cap"):
        if getattr(settings, name) < 1:
            raise ValueError(f"{path}: {name}={getattr(settings, name)} is not allowed: expected an integer >= 1")
    wrong = [i for i in settings.speed_ids if REGISTERED_IDS.get(i, (None,))[0] != family]
    if wrong or not settings.speed_ids:
        raise ValueError(f"{path}: speed_ids={settings.speed_ids} is not allowed: expected registered ids of the "
                         f"{family} family ({wrong or 'none given'} are not)")
    return settings

