"""Run records: the provenance every run directory carries.

A run directory must describe itself: command, seed, git revision, package versions and
thread count sit beside Hydra's resolved config, so that a number can be traced to what
produced it.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("motorsleep", "torch", "mujoco", "gymnasium", "stable-baselines3", "hydra-core", "numpy",
            "omegaconf", "rliable", "pandas")
ROOT = Path(__file__).resolve().parents[1]


def git_revision() -> dict[str, Any]:
    """HEAD's commit and whether the work tree differs from it (None outside a git checkout)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, check=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (None when it is not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(seed: int) -> dict[str, Any]:
    """Everything about this process that can change a result."""
    return {
        "command": [sys.executable, *sys.argv],
        "seed": int(seed),
        "git": git_revision(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "hydra_job": hydra_job(),
    }


def hydra_job() -> dict[str, Any] | None:
    """This job's own overrides and number when Hydra runs it (under a launcher ``command`` is
    the worker's argv, and for a sweep the whole sweep's): what reruns this one run."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    config = HydraConfig.get()
    return {"overrides": list(config.overrides.task), "num": config.job.get("num"),
            "launcher": config.runtime.choices.get("hydra/launcher")}
